//! The activation pages: small, server-rendered, readable without script or styles, fitted
//! to a phone's width, in the person's language, and usable with a screen reader (every
//! field labelled, errors announced and tied to their field, focus always visible).

use linkgate_domain::requestor::{Mvpd, RequestorPolicy};

use super::language::Language;
use super::text::Text;
use crate::html::escape;

/// What every page of a requestor's shares: its look, its language and, on the pages a
/// person can switch language on, the code the switch keeps.
pub struct Page<'a> {
    pub requestor: &'a RequestorPolicy,
    pub language: Language,
    pub switch: Switch<'a>,
}

/// Whether a page offers the other languages: the code and confirmation pages do (the
/// switch reopens them with the same code); the last pages of a walk do not.
#[derive(Clone, Copy)]
pub enum Switch<'a> {
    Off,
    On { code: Option<&'a str> },
}

impl Page<'_> {
    fn text(&self) -> &'static Text {
        self.language.text()
    }

    /// The page titled `title` (HTML, as `Text` says it).
    fn render(&self, title: &str, body: &str) -> String {
        let branding = &self.requestor.branding;
        // Checked `#rrggbb` and a text colour chosen for contrast (`linkgate_domain::branding`).
        let accent = branding
            .accent
            .as_ref()
            .map(|(colour, text)| {
                // Headings wear the colour only when it reads on the page's white (the
                // colour that takes white text is dark enough: 4.5:1 at least).
                let heading = match *text {
                    "#ffffff" => format!("h1{{color:{colour}}}"),
                    _ => String::new(),
                };
                format!("button{{background:{colour};color:{text};border:0;border-radius:.25rem}}{heading}")
            })
            .unwrap_or_default();
        let logo = branding
            .logo_url
            .as_ref()
            .map(|url| {
                format!(
                    "<header><img src=\"{}\" alt=\"{}\" height=\"48\"></header>\n",
                    escape(url.as_str()),
                    escape(&self.requestor.display_name)
                )
            })
            .unwrap_or_default();
        format!(
            "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n\
             <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a;background:#fff}}\
             input,button{{font-size:1.25rem;padding:.5rem;margin:.25rem 0;width:100%;box-sizing:border-box}}\
             :focus-visible{{outline:3px solid #0b57d0;outline-offset:2px}}\
             [role=alert]{{border-left:4px solid #b00;padding-left:.75rem}}.hint{{color:#4a4a4a;margin:0}}\
             .confirm{{display:flex;gap:.75rem;align-items:flex-start}}.confirm input{{width:1.5rem;height:1.5rem;flex:none}}\
             fieldset{{border:0;padding:0;margin:1rem 0}}legend{{font-weight:bold}}\
             nav ul{{list-style:none;padding:0;display:flex;gap:1rem}}nav li>*{{padding:.5rem 0;display:inline-block}}\
             .code{{white-space:nowrap}}button img{{height:1.25em;vertical-align:middle;margin-right:.5rem}}{accent}</style>\n\
             </head>\n<body>\n{logo}<main>\n{body}</main>\n{switch}</body>\n</html>\n",
            lang = self.language.tag(),
            switch = self.switch(),
        )
    }

    /// Links to this page in the other languages, each named in its own language.
    fn switch(&self) -> String {
        let Switch::On { code } = self.switch else {
            return String::new();
        };
        let keep = code
            .map(|code| {
                let code: String = url::form_urlencoded::byte_serialize(code.as_bytes()).collect();
                format!("&code={code}")
            })
            .unwrap_or_default();
        let links: String = Language::ALL
            .into_iter()
            .map(|l| {
                let (tag, name) = (l.tag(), l.name());
                if l == self.language {
                    format!("<li><span lang=\"{tag}\" aria-current=\"true\">{name}</span></li>\n")
                } else {
                    let href = format!("/activate/{}?lang={tag}{keep}", self.requestor.name);
                    format!(
                        "<li><a href=\"{}\" hreflang=\"{tag}\" lang=\"{tag}\">{name}</a></li>\n",
                        escape(&href)
                    )
                }
            })
            .collect();
        format!(
            "<nav aria-label=\"{}\"><ul>\n{links}</ul></nav>\n",
            self.text().languages
        )
    }
}

fn alert(id: &str, message: Option<&str>) -> String {
    message
        .map(|m| format!("<p id=\"{id}\" role=\"alert\">{m}</p>\n"))
        .unwrap_or_default()
}

fn strong(text: &str) -> String {
    format!("<strong>{}</strong>", escape(text))
}

/// Where the code shown on the TV is typed; `invalid` when the one typed was not found.
pub fn enter_code(page: &Page<'_>, code: &str, invalid: bool) -> String {
    let t = page.text();
    let title = (t.activate)(&escape(&page.requestor.display_name));
    let (error, described, invalid) = match invalid {
        true => (
            alert("code-error", Some(t.code_not_valid)),
            "code-hint code-error",
            " aria-invalid=\"true\"",
        ),
        false => (String::new(), "code-hint", ""),
    };
    let body = format!(
        "<h1>{title}</h1>\n{error}\
         <form method=\"post\" action=\"/activate/{requestor}\">\n\
         <label for=\"code\">{label}</label>\n\
         <p id=\"code-hint\" class=\"hint\">{hint}</p>\n\
         <input id=\"code\" name=\"code\" value=\"{code}\" required autocomplete=\"one-time-code\" \
         autocapitalize=\"characters\" spellcheck=\"false\" aria-describedby=\"{described}\"{invalid}>\n\
         <button type=\"submit\">{go}</button>\n</form>\n",
        requestor = escape(&page.requestor.name),
        label = t.code_label,
        hint = t.code_hint,
        code = escape(code),
        go = t.continue_button,
    );
    page.render(&title, &body)
}

/// What the confirmation page names and carries.
pub struct Confirm<'a> {
    /// The device, as its facts describe it.
    pub device: &'a str,
    /// How many minutes ago it asked for the code.
    pub minutes: u64,
    /// The network it asked from, and whether this browser is on it too.
    pub from: Option<(String, bool)>,
    pub code: &'a str,
    /// The browser-bound token the sign-in must carry.
    pub token: &'a str,
    /// The providers to sign in with.
    pub providers: &'a [&'a Mvpd],
    /// Where an Adobe v1 second screen returns once linked.
    pub redirect_url: Option<&'a str>,
    /// Asked again: the box was not ticked.
    pub unticked: bool,
}

/// The one step before any provider: the device named, and the person's confirmation that
/// it is the screen in front of them, with the provider to sign in with.
pub fn confirm(page: &Page<'_>, c: &Confirm<'_>) -> String {
    let t = page.text();
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
                "<button type=\"submit\" name=\"mvpd\" value=\"{id}\">{logo}{label}</button>\n",
                id = escape(&mvpd.id),
                label = (t.sign_in_with)(&escape(&mvpd.display_name)),
            )
        })
        .collect();
    let from = c
        .from
        .as_ref()
        .map(|(network, here)| {
            let say = if *here { t.from_here } else { t.from_elsewhere };
            format!("<p>{}</p>\n", say(&strong(network)))
        })
        .unwrap_or_default();
    let device = escape(c.device);
    let code = escape(c.code);
    let body = format!(
        "<h1>{title}</h1>\n{alert}<p>{activating}</p>\n{from}<p>{stop}</p>\n\
         <form method=\"post\" action=\"/activate/{requestor}/signin\">\n{code_field}{token}{back}\
         <p class=\"confirm\"><input type=\"checkbox\" id=\"confirmed\" name=\"confirmed\" \
         value=\"yes\" required{described}>\n<label for=\"confirmed\">{label}</label></p>\n\
         <fieldset>\n<legend>{legend}</legend>\n{choices}</fieldset>\n</form>\n",
        title = t.confirm_title,
        alert = alert("confirm-error", c.unticked.then_some(t.tick_the_box)),
        activating = (t.activating)(
            &strong(&page.requestor.display_name),
            &strong(c.device),
            // A code read across a line break is a code mistyped.
            &format!("<strong class=\"code\">{}</strong>", escape(c.code)),
            &(t.asked)(c.minutes),
        ),
        stop = t.stop_if_sent,
        requestor = escape(&page.requestor.name),
        code_field = hidden("code", c.code),
        token = hidden("confirm", c.token),
        back = c
            .redirect_url
            .map(|url| hidden("redirect_url", url))
            .unwrap_or_default(),
        described = if c.unticked {
            " aria-describedby=\"confirm-error\" aria-invalid=\"true\""
        } else {
            ""
        },
        label = (t.confirm_label)(&device, &code),
        legend = t.providers,
    );
    page.render(t.confirm_title, &body)
}

/// The end of the walk: linked, waiting for approval, or what went wrong (`title` and
/// `message` are HTML, as `Text` says them).
pub fn outcome(page: &Page<'_>, title: &str, message: &str) -> String {
    let body = format!(
        "<h1>{title}</h1>\n<p>{message}</p>\n<p><a href=\"/activate/{requestor}\">{another}</a></p>\n",
        requestor = escape(&page.requestor.name),
        another = page.text().another_device,
    );
    page.render(title, &body)
}
