//! RFC 8628's `verification_uri_complete` under the gateway's public URL, and as a QR code
//! a TV shows as it is: an SVG of exactly that address, for any code of the requestor's
//! format (whether it is live is not said), no-store.

use linkgate_tests::{Gateway, requestors_config};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde_json::Value;

async fn gateway() -> Gateway {
    let spec = "      throttling: {perClientIp: null}\n";
    let config = requestors_config("publicUrl: https://tv.example.com\n", &[("tv", spec)]);
    Gateway::with_config(&config).await
}

/// The SVG a QR code of `text` is, rendered here independently of the gateway.
fn qr_of(text: &str) -> String {
    QrCode::with_error_correction_level(text, EcLevel::M)
        .unwrap()
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build()
}

#[tokio::test]
async fn the_complete_verification_uri_is_under_the_public_url_and_shown_as_a_qr_code() {
    let gw = gateway().await;
    let answer: Value = reqwest::Client::new()
        .post(gw.url("/oauth/tv/device_authorization"))
        .header("host", "spoofed.example")
        .form(&[("client_id", "tv")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_code = answer["user_code"].as_str().unwrap();
    assert_eq!(
        answer["verification_uri"],
        "https://tv.example.com/activate/tv"
    );
    let complete = answer["verification_uri_complete"].as_str().unwrap();
    assert!(
        complete.starts_with("https://tv.example.com/activate/tv?requestor=tv&user_code="),
        "{complete}"
    );

    // Typed as a person might (lower case, no dash): the same picture.
    let typed = user_code.replace('-', "").to_lowercase();
    let qr = reqwest::get(gw.url(&format!("/activate/tv/qr.svg?user_code={typed}")))
        .await
        .unwrap();
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert_eq!(qr.headers()["cache-control"], "no-store");
    assert_eq!(qr.text().await.unwrap(), qr_of(complete));

    // Not a code of this requestor's format: refused, with nothing drawn.
    for wrong in ["AEIOU123", "", "BCDF-GHJK-LMNP-QRST"] {
        let refused = reqwest::get(gw.url(&format!("/activate/tv/qr.svg?user_code={wrong}")))
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{wrong:?}");
        let body = refused.text().await.unwrap();
        assert!(!body.contains("<svg"), "{wrong:?}: {body}");
    }
}
