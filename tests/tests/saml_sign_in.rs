//! Signing in on the activation page at a SAML 2.0 identity provider that is not ours
//! (pysaml2 with xmlsec1, on 127.0.0.1): the gateway's metadata given to the provider, the
//! AuthnRequest on the HTTP-Redirect binding, the signed Response posted back by the
//! browser, the device linked to the `uid` it names. Then answers no service provider may
//! take — a signature broken by one byte, an assertion for another audience, an old one, a
//! replayed one, an unsigned one, one answering a request the gateway never sent, a signed
//! assertion beside an unsigned one — each refused with nothing linked. And a provider that
//! wants signed requests and encrypts its assertions. (The Adobe v1 second screen through
//! the same provider: `adobe_v1_app.rs`.)

use linkgate_tests::saml_idp::{Posted, SamlIdp, at_provider, refusals};
use linkgate_tests::{Gateway, requestors_config, unthrottled};
use reqwest::{Client, StatusCode, header};
use url::Url;

const MVPD: &str = "saml-cable";

struct Setup {
    gw: Gateway,
    /// Kept for as long as the test runs: dropping it stops the provider.
    idp: SamlIdp,
}

/// The gateway with a SAML MVPD, trusted by the provider; `extra`, more of the MVPD's
/// `saml` settings, `secrets` more of the file's secrets; with `want_signed` the provider
/// takes only signed requests.
async fn setup_with(extra: &str, secrets: &str, want_signed: bool) -> Setup {
    let idp = SamlIdp::start();
    let mvpds = format!(
        "mvpds: [{{id: test-mvpd, decision: {{allow: ['*']}}}}, \
         {{id: {MVPD}, displayName: SAML Cable, decision: {{allow: ['*']}}, \
         saml: {{idpMetadataUrl: '{}', userIdAttribute: 'urn:oid:0.9.2342.19200300.100.1.1', keepAttributes: [mail]{extra}}}}}]",
        idp.metadata_url()
    );
    let config = requestors_config("", &[("demo", "")])
        .replace("mvpds: [{id: test-mvpd, decision: {allow: ['*']}}]", &mvpds)
        .replacen("secrets:\n", &format!("secrets:\n{secrets}"), 1);
    assert!(config.contains(MVPD), "the MVPD line was found");
    // Many sign-ins from one address: each spends a code attempt, whose limit is not tested here.
    let config = config.replace(
        "    spec:\n",
        "    spec:\n      throttling: {perClientIp: null, codeEntry: {perClientIp: {disabled: true}}}\n",
    );
    let gw = Gateway::with_config(&config).await;
    let metadata = reqwest::get(gw.url(&format!("/activate/demo/saml/{MVPD}/metadata")))
        .await
        .unwrap();
    assert_eq!(metadata.status(), StatusCode::OK);
    idp.trust(&metadata.text().await.unwrap(), want_signed)
        .await;
    Setup { gw, idp }
}

async fn setup() -> Setup {
    setup_with("", "", false).await
}

/// An RSA key and its certificate (PEM), for the gateway at the provider: XML encryption's
/// key transport needs RSA.
fn key_pair() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("sp.key"), dir.path().join("sp.crt"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
        ])
        .args(["-subj", "/CN=gateway.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let read = |p| std::fs::read_to_string(p).unwrap();
    (read(&key), read(&cert))
}

/// `pem` as a YAML block at `indent` spaces.
fn block(pem: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    pem.lines().map(|l| format!("{pad}{l}\n")).collect()
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser of another person: no cookies of this one's.
fn browser_without_cookies() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Starts a sign-in with `code` on the activation page and comes back with the provider's
/// answer.
async fn sign_in(gw: &Gateway, browser: &Client, code: &str, knobs: &str) -> Posted {
    let to_provider = gw
        .sign_in_request(browser, "demo", code, MVPD)
        .await
        .send()
        .await
        .unwrap();
    at_provider(browser, to_provider, knobs).await
}

/// Posts `answer` and checks it is refused, for `reason`, with a page that says no more.
async fn refused(gw: &Gateway, browser: &Client, answer: &Posted, reason: &str) {
    let before = refusals(gw, "demo", reason).await;
    let response = answer.post(browser).await;
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("could not be accepted"), "{page}");
    assert_eq!(
        refusals(gw, "demo", reason).await,
        before + 1,
        "refused for {reason}"
    );
}

/// The ACS's answer to a post it cannot tie to a sign-in of this browser.
async fn unknown_sign_in(answer: reqwest::Response) {
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let page = answer.text().await.unwrap();
    assert!(page.contains("unknown or has expired"), "{page}");
}

#[tokio::test]
async fn the_gateway_describes_itself_to_a_saml_provider() {
    let Setup { gw, idp: _idp } = setup().await;
    let answer = reqwest::get(gw.url(&format!("/activate/demo/saml/{MVPD}/metadata")))
        .await
        .unwrap();
    assert_eq!(
        answer.headers()[header::CONTENT_TYPE],
        "application/samlmetadata+xml"
    );
    let xml = answer.text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "EntityDescriptor");
    let entity = gw.url(&format!("/activate/demo/saml/{MVPD}/metadata"));
    assert_eq!(root.attribute("entityID"), Some(entity.as_str()));
    let acs = doc
        .descendants()
        .find(|n| n.tag_name().name() == "AssertionConsumerService")
        .unwrap();
    assert_eq!(
        acs.attribute("Binding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    let expected = gw.url(&format!("/activate/demo/saml/{MVPD}/acs"));
    assert_eq!(acs.attribute("Location"), Some(expected.as_str()));
    // Without a key pair of its own it neither signs nor publishes a certificate.
    let sp = doc
        .descendants()
        .find(|n| n.tag_name().name() == "SPSSODescriptor")
        .unwrap();
    assert_eq!(sp.attribute("AuthnRequestsSigned"), Some("false"));
    assert_eq!(sp.attribute("WantAssertionsSigned"), Some("true"));
    assert!(!xml.contains("X509Certificate"));

    // Only SAML MVPDs have such metadata.
    for mvpd in ["test-mvpd", "nobody"] {
        let (status, _) = gw
            .get(&format!("/activate/demo/saml/{mvpd}/metadata"), None)
            .await;
        assert_eq!(status, 404, "{mvpd}");
    }
}

#[tokio::test]
async fn a_tv_is_activated_through_a_saml_provider_on_the_activation_page() {
    let Setup { gw, idp: _idp } = setup().await;
    let code = gw.issue_code("demo", "den-tv").await;
    let browser = browser();

    // The provider is offered beside the OpenID Connect one.
    let page = gw.activation_page(&browser, "demo", &code).await;
    assert!(page.contains("SAML Cable"), "{page}");

    let posted = sign_in(&gw, &browser, &code, "user=alice").await;
    assert_eq!(
        posted.acs.as_str(),
        gw.url(&format!("/activate/demo/saml/{MVPD}/acs"))
    );
    let done = posted.post(&browser).await;
    let status = done.status();
    let page = done.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("activated"), "{page}");

    let users = gw.linked_users("demo", "den-tv").await;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!(users[0]["userId"], "alice");
    assert_eq!(users[0]["mvpd"], MVPD);
    assert_eq!(users[0]["metadata"]["mail"], "alice@example.test");

    // The same answer again: refused as used, whatever became of the code.
    refused(&gw, &browser, &posted, "replayed").await;
}

#[tokio::test]
async fn answers_a_service_provider_must_not_take_link_nothing() {
    let Setup { gw, idp: _idp } = setup().await;
    let code = gw.issue_code("demo", "den-tv").await;
    let browser = browser();

    // A signature broken by one byte (in the middle of the signature value).
    let genuine = sign_in(&gw, &browser, &code, "user=mallory").await;
    let xml = genuine.xml();
    let start = xml.find("SignatureValue>").unwrap() + "SignatureValue>".len();
    let middle = start + 40;
    let flipped = if &xml[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let broken = format!("{}{flipped}{}", &xml[..middle], &xml[middle + 1..]);
    refused(&gw, &browser, &genuine.with_xml(&broken), "signature").await;

    // A signed assertion beside an unsigned one naming someone else (signature wrapping).
    let genuine = sign_in(&gw, &browser, &code, "user=alice").await;
    let xml = genuine.xml();
    let (open, close) = assertion_bounds(&xml);
    let signed = &xml[open..close];
    let unsigned = strip_signature(signed)
        .replace("alice", "mallory")
        .replacen(" ID=\"", " ID=\"x", 1);
    let wrapped = format!("{}{unsigned}{}", &xml[..open], &xml[open..]);
    refused(&gw, &browser, &genuine.with_xml(&wrapped), "assertions").await;

    // A signature referring outside the document: refused before anything is fetched.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = format!("http://{}/x", listener.local_addr().unwrap());
    let genuine = sign_in(&gw, &browser, &code, "user=mallory").await;
    let outside = genuine
        .xml()
        .replacen("URI=\"#", &format!("URI=\"{elsewhere}#"), 1);
    assert!(outside.contains(&elsewhere));
    refused(&gw, &browser, &genuine.with_xml(&outside), "reference").await;
    let fetch = tokio::time::timeout(std::time::Duration::from_millis(300), listener.accept());
    assert!(fetch.await.is_err(), "the gateway fetched nothing");

    // Answers the provider itself was made to give wrongly.
    for (knobs, reason) in [
        ("user=mallory&sign_assertion=0", "signature"),
        (
            "user=mallory&audience=https://other-sp.example/metadata",
            "audience",
        ),
        ("user=mallory&age=3600", "expired"),
        (
            "user=mallory&in_response_to=_never-sent-by-the-gateway",
            "unsolicited",
        ),
        ("user=mallory&age=-3600", "not_yet_valid"),
        (
            "user=mallory&issuer=https://other-idp.example/metadata",
            "issuer",
        ),
        (
            "user=mallory&destination=https://other-sp.example/acs",
            "destination",
        ),
        ("user=nouid", "subject"),
        ("status=AuthnFailed", "status"),
    ] {
        let posted = sign_in(&gw, &browser, &code, knobs).await;
        refused(&gw, &browser, &posted, reason).await;
    }

    // An answer to another sign-in of the same browser, with this one's RelayState.
    let first = sign_in(&gw, &browser, &code, "user=mallory").await;
    let second = sign_in(&gw, &browser, &code, "user=mallory").await;
    let crossed = Posted {
        relay_state: first.relay_state.clone(),
        cookie: first.cookie.clone(),
        ..second
    };
    refused(&gw, &browser, &crossed, "unsolicited").await;

    // The genuine answer, from a browser that did not start the sign-in (one an attacker
    // sent straight to the provider), or with another sign-in's cookie.
    let genuine = sign_in(&gw, &browser, &code, "user=mallory").await;
    let stranger = self::browser_without_cookies();
    for cookie in [None, first.cookie.clone()] {
        let elsewhere = Posted {
            cookie,
            ..genuine.with_xml(&genuine.xml())
        };
        unknown_sign_in(elsewhere.post(&stranger).await).await;
    }

    // A RelayState that is not the gateway's (its cookie alike).
    let forged = Posted {
        relay_state: "bm90IHNlYWxlZA".into(),
        cookie: Some("linkgate_saml=bm90IHNlYWxlZA".into()),
        ..first
    };
    unknown_sign_in(forged.post(&browser).await).await;

    assert_eq!(
        gw.linked_users("demo", "den-tv").await,
        serde_json::json!([])
    );

    // The provider and the gateway are fine: the genuine answer links.
    let genuine = sign_in(&gw, &browser, &code, "user=alice").await;
    assert_eq!(genuine.post(&browser).await.status(), StatusCode::OK);
    assert_eq!(
        gw.linked_users("demo", "den-tv").await[0]["userId"],
        "alice"
    );
}

#[tokio::test]
async fn without_a_public_url_only_a_loopback_host_names_the_service_provider() {
    // Else a Host header would let answers addressed to another service provider pass.
    let Setup { gw, idp: _idp } = setup().await;
    let code = gw.issue_code("demo", "den-tv").await;
    let answer = gw
        .sign_in_request(&browser(), "demo", &code, MVPD)
        .await
        .header(header::HOST, "tv.example")
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let page = answer.text().await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert!(page.contains("public URL"), "{page}");
    let metadata = |host: &'static str| {
        browser()
            .get(gw.url(&format!("/activate/demo/saml/{MVPD}/metadata")))
            .header(header::HOST, host)
            .send()
    };
    let elsewhere = metadata("tv.example").await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        metadata("localhost").await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_provider_whose_metadata_names_no_signing_certificate_is_not_used() {
    let idp = SamlIdp::start();
    let mvpds = format!(
        "mvpds: [{{id: {MVPD}, decision: {{allow: ['*']}}, \
         saml: {{idpMetadataUrl: '{}?no_keys=1', userIdAttribute: 'urn:oid:0.9.2342.19200300.100.1.1'}}}}]",
        idp.metadata_url()
    );
    let config = requestors_config("", &[("demo", "")])
        .replace("mvpds: [{id: test-mvpd, decision: {allow: ['*']}}]", &mvpds);
    let gw = Gateway::with_config(&unthrottled(&config)).await;
    let code = gw.issue_code("demo", "den-tv").await;
    let answer = gw
        .sign_in_request(&browser(), "demo", &code, MVPD)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert!(answer.text().await.unwrap().contains("cannot be reached"));
}

#[tokio::test]
async fn with_a_key_pair_requests_are_signed_and_encrypted_assertions_are_read() {
    let (key, cert) = key_pair();
    let secrets = format!(
        "  saml:\n    tls.key: |\n{}    tls.crt: |\n{}",
        block(&key, 6),
        block(&cert, 6)
    );
    let extra = ", keyRef: {name: saml, key: tls.key}, certificateRef: {name: saml, key: tls.crt}";
    let Setup { gw, idp: _idp } = setup_with(extra, &secrets, true).await;

    // The metadata publishes the certificate, for signatures and for encryption.
    let xml = reqwest::get(gw.url(&format!("/activate/demo/saml/{MVPD}/metadata")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let sp = doc
        .descendants()
        .find(|n| n.tag_name().name() == "SPSSODescriptor")
        .unwrap();
    assert_eq!(sp.attribute("AuthnRequestsSigned"), Some("true"));
    let uses: Vec<_> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "KeyDescriptor")
        .map(|n| n.attribute("use").unwrap())
        .collect();
    assert_eq!(uses, ["signing", "encryption"]);
    let published = doc
        .descendants()
        .find(|n| n.tag_name().name() == "X509Certificate")
        .and_then(|n| n.text())
        .unwrap();
    let body: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(published, body);

    let code = gw.issue_code("demo", "den-tv").await;
    let browser = browser();
    let to_provider = gw
        .sign_in_request(&browser, "demo", &code, MVPD)
        .await
        .send()
        .await
        .unwrap();
    let location = Url::parse(to_provider.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    let signature_alg = location.query_pairs().find(|(k, _)| k == "SigAlg");
    assert_eq!(
        signature_alg.map(|(_, v)| v.into_owned()).as_deref(),
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    // The provider checks the signature: one changed character and it refuses.
    let tampered: Vec<(String, String)> = location
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "Signature" {
                let flip = if v.starts_with('A') { "B" } else { "A" };
                format!("{flip}{}", &v[1..])
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut refused_by_provider = location.clone();
    refused_by_provider
        .query_pairs_mut()
        .clear()
        .extend_pairs(&tampered);
    let answer = browser.get(refused_by_provider).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);

    // The genuine request: the assertion comes encrypted to the gateway's certificate.
    let posted = at_provider(
        &browser,
        to_provider,
        "user=alice&encrypt=1&sign_response=1",
    )
    .await;
    let xml = posted.xml();
    assert!(xml.contains("EncryptedAssertion"), "{xml}");
    assert!(
        !xml.contains("alice"),
        "the user is not readable on the way: {xml}"
    );
    let done = posted.post(&browser).await;
    let status = done.status();
    assert_eq!(status, StatusCode::OK, "{}", done.text().await.unwrap());
    assert_eq!(
        gw.linked_users("demo", "den-tv").await[0]["userId"],
        "alice"
    );
}

/// Where the first assertion starts and ends.
fn assertion_bounds(xml: &str) -> (usize, usize) {
    let open = xml
        .find(":Assertion ")
        .map(|i| xml[..i].rfind('<').unwrap());
    let open = open.unwrap_or_else(|| panic!("no assertion in {xml}"));
    let close_tag = xml[open..]
        .find(":Assertion>")
        .map(|i| open + i + ":Assertion>".len())
        .unwrap();
    (open, close_tag)
}

fn strip_signature(assertion: &str) -> String {
    let start = assertion
        .find(":Signature ")
        .map(|i| assertion[..i].rfind('<').unwrap());
    let Some(start) = start else {
        return assertion.to_owned();
    };
    let end = assertion[start..].find(":Signature>").unwrap() + start + ":Signature>".len();
    format!("{}{}", &assertion[..start], &assertion[end..])
}
