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
         [role=alert]{{border-left:4px solid #b00;padding-left:.75rem}}\
         .confirm{{display:flex;gap:.5rem;align-items:flex-start}}.confirm input{{width:auto;margin-top:.5rem}}\
         fieldset{{border:0;padding:0;margin:1rem 0}}legend{{font-weight:bold}}</style>\n\
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

/// What the confirmation page names and carries.
pub struct Confirm<'a> {
    /// The requestor's name, in the path.
    pub requestor: &'a str,
    /// Its name for people.
    pub service: &'a str,
    /// The device, as its facts describe it.
    pub device: &'a str,
    /// When it asked for the code, e.g. "3 minutes ago".
    pub asked: &'a str,
    pub code: &'a str,
    /// The browser-bound token the sign-in must carry.
    pub token: &'a str,
    /// The providers to sign in with: (ID, name).
    pub providers: &'a [(&'a str, &'a str)],
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
        .map(|(id, name)| {
            format!(
                "<button type=\"submit\" name=\"mvpd\" value=\"{id}\">Sign in with {name}</button>\n",
                id = escape(id),
                name = escape(name),
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
        service = escape(c.service),
        device = escape(c.device),
        code = escape(c.code),
        asked = escape(c.asked),
        requestor = escape(c.requestor),
        code_field = hidden("code", c.code),
        token = hidden("confirm", c.token),
        back = c
            .redirect_url
            .map(|url| hidden("redirect_url", url))
            .unwrap_or_default(),
    );
    page("Is this your screen?", &body)
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
