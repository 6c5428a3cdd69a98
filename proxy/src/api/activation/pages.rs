//! The activation pages: small, server-rendered, readable without script or styles, and
//! fitted to a phone's width.

use crate::html::escape;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         input,button{{font-size:1.25rem;padding:.5rem;margin:.25rem 0;width:100%;box-sizing:border-box}}\
         [role=alert]{{border-left:4px solid #b00;padding-left:.75rem}}</style>\n\
         </head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        title = escape(title)
    )
}

fn alert(message: Option<&str>) -> String {
    message
        .map(|m| format!("<p role=\"alert\">{}</p>\n", escape(m)))
        .unwrap_or_default()
}

/// Where the code shown on the TV is typed.
pub fn enter_code(requestor: &str, service: &str, code: &str, message: Option<&str>) -> String {
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
    page(&format!("Activate {service}"), &body)
}

/// The TV providers to sign in with, for a valid code.
pub fn choose_provider(
    requestor: &str,
    device: &str,
    code: &str,
    providers: &[(&str, &str)],
) -> String {
    let choices: String = providers
        .iter()
        .map(|(id, name)| {
            format!(
                "<form method=\"post\" action=\"/activate/{requestor}/signin\">\n\
                 <input type=\"hidden\" name=\"code\" value=\"{code}\">\n\
                 <input type=\"hidden\" name=\"mvpd\" value=\"{id}\">\n\
                 <button type=\"submit\">{name}</button>\n</form>\n",
                requestor = escape(requestor),
                code = escape(code),
                id = escape(id),
                name = escape(name),
            )
        })
        .collect();
    let body = format!(
        "<h1>Pick your TV provider</h1>\n<p>You are activating {device}. Sign in with the \
         provider you watch TV with.</p>\n{choices}",
        device = escape(device),
    );
    page("Pick your TV provider", &body)
}

/// The end of the walk: linked, waiting for approval, or what went wrong.
pub fn outcome(title: &str, message: &str, requestor: &str) -> String {
    let body = format!(
        "<h1>{title}</h1>\n<p>{message}</p>\n<p><a href=\"/activate/{requestor}\">Activate another device</a></p>\n",
        title = escape(title),
        message = escape(message),
        requestor = escape(requestor),
    );
    page(title, &body)
}
