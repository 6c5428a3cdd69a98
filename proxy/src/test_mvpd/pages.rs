//! The test MVPD's sign-in page: a plain form, no script.

use crate::html::escape;

/// The sign-in form, posting to `action` and carrying the request's parameters back in
/// hidden fields, with `error` shown above it when the last attempt failed.
pub fn sign_in(action: &str, params: &[(String, String)], error: Option<&str>) -> String {
    let hidden: String = params
        .iter()
        .filter(|(name, _)| name != "user")
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let error = error
        .map(|e| format!("<p role=\"alert\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Test MVPD sign-in</title></head>\n<body>\n<main>\n<h1>Test MVPD</h1>\n\
         <p>A stand-in TV provider for demos and tests: any user ID signs in.</p>\n{error}\
         <form method=\"post\" action=\"{action}\">\n{hidden}\
         <label for=\"user\">User ID</label>\n\
         <input id=\"user\" name=\"user\" required autocomplete=\"username\" pattern=\"[A-Za-z0-9_=\\-]{{1,128}}\">\n\
         <button type=\"submit\">Sign in</button>\n</form>\n</main>\n</body>\n</html>\n"
    )
}

/// SAML's HTTP-POST binding without script: the signed answer in a form the person sends
/// on to the service provider's `acs`.
pub fn saml_post(acs: &str, response: &str, relay_state: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Test MVPD sign-in</title></head>\n<body>\n<main>\n<h1>Signed in</h1>\n\
         <form method=\"post\" action=\"{}\">\n\
         <input type=\"hidden\" name=\"SAMLResponse\" value=\"{}\">\n\
         <input type=\"hidden\" name=\"RelayState\" value=\"{}\">\n\
         <button type=\"submit\">Continue</button>\n</form>\n</main>\n</body>\n</html>\n",
        escape(acs),
        escape(response),
        escape(relay_state)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_parameters_are_carried_escaped() {
        let page = sign_in(
            "/authorize",
            &[
                ("state".into(), "a\"><script>".into()),
                ("user".into(), "x".into()),
            ],
            Some("<bad>"),
        );
        assert!(page.contains("name=\"state\" value=\"a&quot;&gt;&lt;script&gt;\""));
        assert!(page.contains("&lt;bad&gt;"));
        assert!(!page.contains("<script>") && !page.contains("value=\"x\""));
    }
}
