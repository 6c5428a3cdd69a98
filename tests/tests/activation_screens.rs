//! The activation pages as people see them: in Chromium at a phone's width, in English and
//! in Spanish. Each page is checked for the elements it must have, against axe-core's WCAG
//! 2.1 A and AA rules (labels, contrast, language, landmarks), and photographed. Set
//! `LINKGATE_SCREENS` to a directory to keep the photographs (the README shows those in
//! `docs/screens`).

use fantoccini::{Client, Locator};
use linkgate_tests::Gateway;
use linkgate_tests::browser::{
    Browser, Driver, PHONE_HEIGHT, accessibility_violations, fill_and_submit,
};

const PHONE_WIDTH: u32 = 390;

/// What a language's pages must say.
struct Expected {
    lang: &'static str,
    heading: &'static str,
    code_label: &'static str,
    wrong_code: &'static str,
    confirm_title: &'static str,
    device_id: &'static str,
    /// The device as the pages name it.
    device: &'static str,
    same_network: &'static str,
    providers: &'static str,
    done_title: &'static str,
}

const ENGLISH: Expected = Expected {
    lang: "en",
    heading: "Activate Demo TV",
    code_label: "The code shown on your TV",
    wrong_code: "That code is not valid",
    confirm_title: "Is this your screen?",
    device_id: "den",
    device: "your smart TV (den)",
    same_network: "the one you are on now",
    providers: "Sign in with your TV provider",
    done_title: "You're all set",
};

const SPANISH: Expected = Expected {
    lang: "es",
    heading: "Activar Demo TV",
    code_label: "El código que muestra tu televisor",
    wrong_code: "Ese código no es válido",
    confirm_title: "¿Es esta tu pantalla?",
    device_id: "living-room",
    device: "tu smart TV (living-room)",
    same_network: "la misma en la que estás",
    providers: "Inicia sesión con tu proveedor de televisión",
    done_title: "¡Listo!",
};

async fn text_of(browser: &Client, css: &str) -> String {
    let element = browser.wait().for_element(Locator::Css(css)).await;
    let element = element.unwrap_or_else(|e| panic!("no {css}: {e}"));
    element.text().await.unwrap()
}

/// The page `name` in `lang`: no accessibility rule broken, and photographed at the
/// phone's width.
async fn check_and_photograph(browser: &Client, lang: &str, name: &str) {
    let broken = accessibility_violations(browser).await;
    assert!(broken.is_empty(), "{lang} {name} page: {broken:#?}");
    let png = browser.screenshot().await.unwrap();
    assert_eq!(&png[1..4], b"PNG", "{name}: a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (PHONE_WIDTH, PHONE_HEIGHT), "{name}");
    if let Some(dir) = std::env::var_os("LINKGATE_SCREENS") {
        let path = std::path::Path::new(&dir).join(format!("{lang}-{name}.png"));
        std::fs::write(&path, png).unwrap();
    }
}

/// The walk from the code to the success page, as a person whose browser shows pages in
/// `expected`'s language.
async fn walk(gw: &Gateway, browser: &Client, expected: &Expected) {
    let lang = expected.lang;
    let (status, issued) = gw
        .post_json(
            "/v1/requestors/demo/codes",
            serde_json::json!({ "deviceId": expected.device_id, "deviceType": "smart TV" }),
            None,
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let code = issued["displayCode"].as_str().unwrap();

    browser.goto(&gw.url("/activate/demo")).await.unwrap();
    browser
        .wait()
        .for_element(Locator::Css(&format!("html[lang={lang}]")))
        .await
        .unwrap();
    assert_eq!(text_of(browser, "h1").await, expected.heading);
    assert_eq!(
        text_of(browser, "label[for=code]").await,
        expected.code_label
    );
    let others = browser
        .find_all(Locator::Css("nav a[hreflang]"))
        .await
        .unwrap();
    assert_eq!(others.len(), 2, "the two other languages");
    check_and_photograph(browser, lang, "code").await;

    fill_and_submit(browser, "code", "ZZZZ-ZZZZ").await;
    assert!(
        text_of(browser, "[role=alert]")
            .await
            .starts_with(expected.wrong_code)
    );
    browser
        .find(Locator::Css("input#code[aria-invalid=true]"))
        .await
        .expect("the field is marked as the one in error");
    check_and_photograph(browser, lang, "wrong-code").await;

    fill_and_submit(browser, "code", code).await;
    browser
        .wait()
        .for_element(Locator::Id("confirmed"))
        .await
        .unwrap();
    assert_eq!(text_of(browser, "h1").await, expected.confirm_title);
    let label = text_of(browser, "label[for=confirmed]").await;
    assert!(
        label.contains(expected.device) && label.contains(code),
        "{label}"
    );
    let main = text_of(browser, "main").await;
    assert!(
        main.contains("127.0.0.0/24") && main.contains(expected.same_network),
        "where the device asked from: {main}"
    );
    assert_eq!(text_of(browser, "legend").await, expected.providers);
    check_and_photograph(browser, lang, "confirm").await;

    browser
        .find(Locator::Id("confirmed"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .find(Locator::Css("button[name=mvpd][value=test-mvpd]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The test MVPD's own sign-in form.
    fill_and_submit(browser, "user", "alice").await;
    let done = format!("//h1[normalize-space()=\"{}\"]", expected.done_title);
    browser
        .wait()
        .for_element(Locator::XPath(&done))
        .await
        .unwrap();
    browser
        .find(Locator::Css(&format!("html[lang={lang}]")))
        .await
        .unwrap();
    assert!(text_of(browser, "main").await.contains(expected.device));
    check_and_photograph(browser, lang, "done").await;
}

#[tokio::test]
async fn the_pages_on_a_phone_in_english_and_spanish_are_complete_and_accessible() {
    let driver = Driver::start();
    // A light accent colour: the hardest to keep readable.
    let branded = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &linkgate_tests::free_port().to_string())
        .replace(
            "    spec:\n",
            "    spec:\n      branding: {accentColor: '#ffc83d'}\n",
        );
    let gw = Gateway::with_config(&linkgate_tests::unthrottled(&branded)).await;

    // A browser asking for Spanish gets Spanish.
    let profile = tempfile::tempdir().expect("a profile directory");
    let spanish = Browser {
        languages: Some("es-ES,es"),
        phone_width: Some(PHONE_WIDTH),
    };
    let browser = spanish.open(&driver, profile.path()).await;
    walk(&gw, &browser, &SPANISH).await;
    browser.close().await.unwrap();

    // A browser asking for French, whose person switches to English: the choice holds on
    // every page after, whatever the browser asks for.
    let profile = tempfile::tempdir().expect("a profile directory");
    let french = Browser {
        languages: Some("fr-FR,fr"),
        phone_width: Some(PHONE_WIDTH),
    };
    let browser = french.open(&driver, profile.path()).await;
    browser.goto(&gw.url("/activate/demo")).await.unwrap();
    browser
        .wait()
        .for_element(Locator::Css("html[lang=fr]"))
        .await
        .unwrap();
    assert_eq!(text_of(&browser, "h1").await, "Activer Demo TV");
    browser
        .find(Locator::Css("nav a[hreflang=en]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    walk(&gw, &browser, &ENGLISH).await;
    browser.close().await.unwrap();
}
