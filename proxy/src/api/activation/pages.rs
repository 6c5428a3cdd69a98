//! The activation pages: small, server-rendered, readable without script or styles, and
//! fitted to a phone's width.

use linkgate_domain::requestor::{Mvpd, RequestorPolicy};

use crate::html::escape;

/// A page of `requestor`'s: its logo above, its accent colour on buttons and headings.
fn page(requestor: &RequestorPolicy, title: &str, body: &str) -> String {
    let branding = &requestor.branding;
    // Checked `#rrggbb` and a text colour chosen for contrast (`linkgate_domain::branding`).
    let accent = branding
        .accent
        .as_ref()
        .map(|(colour, text)| {
            format!("button{{background:{colour};color:{text};border:0;border-radius:.25rem}}h1{{color:{colour}}}")
        })
        .unwrap_or_default();
    let logo = branding
        .logo_url
        .as_ref()
        .map(|url| {
            format!(
                "<header><img src=\"{}\" alt=\"{}\" height=\"48\"></header>\n",
                escape(url.as_str()),
                escape(&requestor.display_name)
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         input,button{{font-size:1.25rem;padding:.5rem;margin:.25rem 0;width:100%;box-sizing:border-box}}\
         [role=alert]{{border-left:4px solid #b00;padding-left:.75rem}}\
         .confirm{{display:flex;gap:.5rem;align-items:flex-start}}.confirm input{{width:auto;margin-top:.5rem}}\
         fieldset{{border:0;padding:0;margin:1rem 0}}legend{{font-weight:bold}}\
         button img{{height:1.25em;vertical-align:middle;margin-right:.5rem}}{accent}</style>\n\
         </head>\n<body>\n{logo}<main>\n{body}</main>\n</body>\n</html>\n",
        title = escape(title)
    )
}

fn alert(message: Option<&str>) -> String {
    message
        .map(|m| format!("<p role=\"alert\">{}</p>\n", escape(m)))
        .unwrap_or_default()
}

/// Where the code shown on the TV is typed.
pub fn enter_code(policy: &RequestorPolicy, code: &str, message: Option<&str>) -> String {
    let (requestor, service) = (&policy.name, &policy.display_name);
    let body = format!(
        "<h1>Activate {service}</h1>\n{alert}\
         <form method=\"post\" action=\"/activate/{requestor}\">\n\
         <label for=\"code\">The code shown on your TV</label>\n\
         <input id=\"code\" name=\"code\" value=\"{code}\" required autocomplete=\"one-time-code\" \
         autocapitalize=\"characters\" spellcheck=\"false\">\n\
         <button type=\"submit\">Continue</button>\n</form>\n",
        service = escape(service),
        alert = alert(message),
        requestor = escape(requestor),
        code = escape(code),
    );
    page(policy, &format!("Activate {service}"), &body)
}

/// What the confirmation page names and carries.
pub struct Confirm<'a> {
    pub requestor: &'a RequestorPolicy,
    /// The device, as its facts describe it.
    pub device: &'a str,
    /// When it asked for the code, e.g. "3 minutes ago".
    pub asked: &'a str,
    pub code: &'a str,
    /// The browser-bound token the sign-in must carry.
    pub token: &'a str,
    /// The providers to sign in with.
    pub providers: &'a [&'a Mvpd],
    /// Where an Adobe v1 second screen returns once linked.
    pub redirect_url: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// The one step before any provider: the device named, and the person's confirmation that
/// it is the screen in front of them, with the provider to sign in with.
pub fn confirm(c: &Confirm<'_>) -> String {
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
            escape(value)
        )
    };
    let choices: String = c
        .providers
        .iter()
        .map(|mvpd| {
            // Decorative beside the name, which says it.
            let logo = mvpd
                .logo_url
                .as_ref()
                .map(|url| format!("<img src=\"{}\" alt=\"\">", escape(url.as_str())))
                .unwrap_or_default();
            format!(
                "<button type=\"submit\" name=\"mvpd\" value=\"{id}\">{logo}Sign in with {name}</button>\n",
                id = escape(&mvpd.id),
                name = escape(&mvpd.display_name),
            )
        })
        .collect();
    let body = format!(
        "<h1>Is this your screen?</h1>\n{alert}\
         <p>You are activating <strong>{service}</strong> on <strong>{device}</strong>, \
         which asked for the code <strong>{code}</strong> {asked}.</p>\n\
         <p>Go on only if that device is in front of you, showing this code. If someone sent \
         you this link or code, stop here: their device would watch on your subscription.</p>\n\
         <form method=\"post\" action=\"/activate/{requestor}/signin\">\n{code_field}{token}{back}\
         <p class=\"confirm\"><input type=\"checkbox\" id=\"confirmed\" name=\"confirmed\" \
         value=\"yes\" required>\n<label for=\"confirmed\">Yes, {device} is in front of me \
         and shows {code}</label></p>\n\
         <fieldset>\n<legend>Sign in with your TV provider</legend>\n{choices}</fieldset>\n</form>\n",
        alert = alert(c.message),
        service = escape(&c.requestor.display_name),
        device = escape(c.device),
        code = escape(c.code),
        asked = escape(c.asked),
        requestor = escape(&c.requestor.name),
        code_field = hidden("code", c.code),
        token = hidden("confirm", c.token),
        back = c
            .redirect_url
            .map(|url| hidden("redirect_url", url))
            .unwrap_or_default(),
    );
    page(c.requestor, "Is this your screen?", &body)
}

/// The end of the walk: linked, waiting for approval, or what went wrong.
pub fn outcome(policy: &RequestorPolicy, title: &str, message: &str) -> String {
    let body = format!(
        "<h1>{title}</h1>\n<p>{message}</p>\n<p><a href=\"/activate/{requestor}\">Activate another device</a></p>\n",
        title = escape(title),
        message = escape(message),
        requestor = escape(&policy.name),
    );
    page(policy, title, &body)
}
