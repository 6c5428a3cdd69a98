//! How a requestor's pages look: its logo and accent colour, and its MVPDs' logos. Pages
//! put these into HTML and CSS, so each is checked here: an https URL, and a colour that is
//! only `#rrggbb` (nothing a tenant writes can end a style rule), with the text colour on it
//! chosen for contrast.

use linkgate_crds::BrandingSpec;

use crate::policy_error::PolicyError;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Branding {
    pub logo_url: Option<url::Url>,
    /// `#rrggbb`, and the text colour readable on it (black or white).
    pub accent: Option<(String, &'static str)>,
}

impl Branding {
    pub fn from_spec(spec: Option<&BrandingSpec>) -> Result<Self, PolicyError> {
        let Some(spec) = spec else {
            return Ok(Self::default());
        };
        let logo_url = spec
            .logo_url
            .as_deref()
            .map(|u| logo_url("branding.logoUrl", u))
            .transpose()?;
        let accent = spec.accent_color.as_deref().map(accent).transpose()?;
        Ok(Self { logo_url, accent })
    }
}

/// A logo's address: https only, as a phone on https would refuse anything else.
pub fn logo_url(field: &str, value: &str) -> Result<url::Url, PolicyError> {
    let url = url::Url::parse(value).map_err(|e| PolicyError::Branding(format!("{field}: {e}")))?;
    if url.scheme() != "https" {
        return Err(PolicyError::Branding(format!("{field} must be https")));
    }
    Ok(url)
}

/// `#rrggbb` and black or white, whichever reads better on it (WCAG relative luminance).
fn accent(value: &str) -> Result<(String, &'static str), PolicyError> {
    let refused = || PolicyError::Branding(format!("accentColor {value:?} is not #rrggbb"));
    let hex = value
        .strip_prefix('#')
        .filter(|h| h.len() == 6)
        .ok_or_else(refused)?;
    let channel = |i: usize| {
        u8::from_str_radix(hex.get(i..i + 2).ok_or_else(refused)?, 16).map_err(|_| refused())
    };
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (channel(0)?, channel(2)?, channel(4)?);
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    // Contrast with white is (1.05)/(L+0.05), with black (L+0.05)/0.05: equal at L ≈ 0.179.
    let text = if luminance > 0.179 {
        "#000000"
    } else {
        "#ffffff"
    };
    Ok((format!("#{}", hex.to_ascii_lowercase()), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(logo: Option<&str>, accent: Option<&str>) -> BrandingSpec {
        BrandingSpec {
            logo_url: logo.map(str::to_owned),
            accent_color: accent.map(str::to_owned),
        }
    }

    #[test]
    fn colours_are_only_hex_and_get_a_readable_text_colour() {
        let b = |a: &str| Branding::from_spec(Some(&spec(None, Some(a))));
        assert_eq!(
            b("#0A2B6C").unwrap().accent,
            Some(("#0a2b6c".into(), "#ffffff"))
        );
        assert_eq!(
            b("#ffd700").unwrap().accent,
            Some(("#ffd700".into(), "#000000"))
        );
        for bad in [
            "red",
            "#fff",
            "#12345g",
            "#123456;}body{display:none",
            "0a2b6c",
            "#ＡＡＡＡＡＡ",
        ] {
            assert!(b(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logos_are_https_urls() {
        let b = |u: &str| Branding::from_spec(Some(&spec(Some(u), None)));
        assert!(b("https://cdn.acme.example/logo.svg").is_ok());
        for bad in [
            "http://cdn.acme.example/logo.svg",
            "javascript:alert(1)",
            "/logo.svg",
        ] {
            assert!(b(bad).is_err(), "{bad}");
        }
        assert_eq!(Branding::from_spec(None).unwrap(), Branding::default());
    }
}
