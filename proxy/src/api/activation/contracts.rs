//! What the pages' routes take and answer: pages, redirects to identity providers and
//! back, and the SAML service provider's endpoints.

use super::super::contract::{Answer, Body, Contract, contract, gives, optional, required};

const LANG: super::super::contract::Param = optional(
    "lang",
    "The page's language, over `Accept-Language` (`en`, `es`, `fr`).",
);

const CODE_PAGE: &str = "The page: enter a code, or confirm the one given and pick a provider.";

pub(in crate::api) const ENTRY: Contract = contract!(
    "The activation page; with a code, its confirmation.",
    [
        optional("code", "The code the device shows."),
        optional(
            "user_code",
            "The code, as RFC 8628's verification_uri_complete gives it."
        ),
        LANG,
    ],
    [
        gives(200, CODE_PAGE, Body::Page),
        gives(
            404,
            "No such code: the page says so and asks again.",
            Body::Page
        ),
    ]
);

pub(in crate::api) const SIGN_IN: Contract = contract!(
    "Starts the sign-in with the code at the MVPD (the confirmation page's form).",
    [
        required("code", "The code being confirmed."),
        required("mvpd", "The MVPD picked."),
        optional("redirect_url", "Where the browser returns once linked."),
        optional("confirm", "The confirmation page's token."),
        optional(
            "confirmed",
            "`yes` once the person ticked that the device is theirs."
        ),
        LANG,
    ],
    [
        gives(
            303,
            "To the MVPD's sign-in (or back to the confirmation).",
            Body::Redirect
        ),
        gives(200, "The outcome: the device is linked.", Body::Page),
        gives(
            202,
            "The outcome: the requestor's backend has yet to approve.",
            Body::Page
        ),
        gives(
            400,
            "Not confirmed, a provider not offered, or the request not sent back.",
            Body::Page
        ),
        gives(403, "The page's confirmation did not hold.", Body::Page),
        gives(404, "The code is gone.", Body::Page),
        gives(
            502,
            "The identity provider could not be reached.",
            Body::Page
        ),
    ]
);

/// What a browser coming back from its identity provider is shown, OpenID Connect or SAML.
const RETURNS: &[Answer] = &[
    gives(200, "The outcome: the device is linked.", Body::Page),
    gives(
        202,
        "The outcome: the requestor's backend has yet to approve.",
        Body::Page,
    ),
    gives(
        303,
        "Back to where the app asked, once linked.",
        Body::Redirect,
    ),
    gives(
        400,
        "The provider refused, its answer did not hold, or the sign-in is unknown or expired.",
        Body::Page,
    ),
    gives(403, "The requestor's backend refused the user.", Body::Page),
    gives(404, "The code is gone.", Body::Page),
    gives(502, "The provider's answer could not be used.", Body::Page),
    gives(
        504,
        "The requestor's backend did not answer in time.",
        Body::Page,
    ),
];

pub(in crate::api) const CALLBACK: Contract = Contract {
    answers: RETURNS,
    ..contract!(
        "Where an OpenID Connect provider returns the browser after sign-in.",
        [
            optional("code", "The authorization code."),
            optional("state", "The sign-in's state."),
            optional("iss", "The issuer (RFC 9207)."),
            optional("error", "The provider's refusal."),
        ],
        []
    )
};

pub(in crate::api) const SAML_METADATA: Contract = contract!(
    "The SAML service provider's metadata for the MVPD.",
    [],
    [
        gives(200, "The metadata.", Body::SamlMetadata),
        gives(404, "No SAML sign-in at that MVPD.", Body::Error),
        gives(500, "The metadata could not be made.", Body::Error),
    ]
);

pub(in crate::api) const SAML_ACS: Contract = Contract {
    answers: RETURNS,
    ..contract!(
        "The SAML assertion consumer service: where the identity provider posts its answer.",
        [
            required("SAMLResponse", "The signed response, base64."),
            required("RelayState", "The sign-in's state."),
        ],
        []
    )
};

pub(in crate::api) const SECOND_SCREEN: Contract = contract!(
    "Adobe v1's second screen: the confirmation page for `reg_code` at `mso_id`.",
    [
        required("reg_code", "The registration code."),
        required("mso_id", "The MVPD."),
        required(
            "redirect_url",
            "Where the browser returns: one of the requestor's hosts."
        ),
        LANG,
    ],
    [
        gives(200, CODE_PAGE, Body::Page),
        gives(
            400,
            "An MVPD not offered, or a return address not the requestor's.",
            Body::Page
        ),
        gives(404, "No such code.", Body::Page),
    ]
);

pub(in crate::api) const V2_AUTHENTICATE: Contract = contract!(
    "Adobe v2's sign-in for the session's code, opened in a browser.",
    [
        optional("mvpd", "The MVPD, when the session has none."),
        optional(
            "redirectUrl",
            "Where the browser returns: on one of the service provider's domains."
        ),
        LANG,
    ],
    [
        gives(200, CODE_PAGE, Body::Page),
        gives(
            400,
            "An MVPD not offered, or a return address not the service provider's.",
            Body::Page
        ),
        gives(404, "No such code.", Body::Page),
    ]
);
