//! The resource a device asks about: a plain ID, or — as clients written for Adobe Pass send
//! it — an MRSS document whose channel title is the ID. The MVPD's decision point is given
//! both; decisions and media tokens name the ID.

use quick_xml::events::Event;

/// The largest MRSS document read.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub id: String,
    /// The MRSS document, when the resource came as one.
    pub document: Option<String>,
}

/// Why a resource was refused; the document is never repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("the resource is empty")]
    Empty,
    #[error("the MRSS resource is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("the MRSS resource is not well-formed XML without a DOCTYPE")]
    Malformed,
    #[error("the MRSS resource names no channel title (rss/channel/title)")]
    NoTitle,
}

impl Resource {
    /// A resource as a device sent it: MRSS when it starts with `<`, an ID otherwise.
    pub fn parse(input: &str) -> Result<Self, ResourceError> {
        if input.trim().is_empty() {
            return Err(ResourceError::Empty);
        }
        if !input.trim_start().starts_with('<') {
            return Ok(Self::id(input));
        }
        if input.len() > MAX_DOCUMENT_BYTES {
            return Err(ResourceError::TooLarge);
        }
        let id = channel_title(input)?;
        Ok(Self {
            id,
            document: Some(input.to_owned()),
        })
    }

    pub fn id(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            document: None,
        }
    }
}

/// The text of `/rss/channel/title`, trimmed; the whole document must be well formed.
fn channel_title(xml: &str) -> Result<String, ResourceError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut title: Option<String> = None;
    let mut text = String::new();
    let at_title = |path: &[Vec<u8>]| path == [b"rss".as_slice(), b"channel", b"title"];
    let malformed = |_| ResourceError::Malformed;
    loop {
        let event = reader.read_event().map_err(|_| ResourceError::Malformed)?;
        let collecting = at_title(&path) && title.is_none();
        match event {
            Event::Start(e) => {
                if path.is_empty() && e.local_name().as_ref() != b"rss" {
                    return Err(ResourceError::NoTitle);
                }
                path.push(e.local_name().as_ref().to_vec());
            }
            Event::End(_) => {
                if collecting {
                    title = Some(text.trim().to_owned());
                }
                path.pop();
            }
            Event::Text(t) if collecting => text.push_str(&t.decode().map_err(malformed)?),
            Event::CData(t) if collecting => {
                text.push_str(std::str::from_utf8(&t).map_err(|_| ResourceError::Malformed)?)
            }
            // Only XML's own entities and character references: nothing else is defined.
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|_| ResourceError::Malformed)? {
                    Some(c) => c,
                    None => match r.decode().map_err(malformed)?.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(ResourceError::Malformed),
                    },
                };
                if collecting {
                    text.push(c);
                }
            }
            // No DTD: nothing in a resource may define what its text means.
            Event::DocType(_) => return Err(ResourceError::Malformed),
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(ResourceError::Malformed);
    }
    title
        .filter(|t| !t.is_empty())
        .ok_or(ResourceError::NoTitle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MRSS: &str = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <title>TNT</title>
    <item><title>Episode 1</title><guid>e1</guid><media:rating scheme="urn:v-chip">tv-14</media:rating></item>
  </channel>
</rss>"#;

    #[test]
    fn an_mrss_resource_is_known_by_its_channel_title_and_kept_whole() {
        let r = Resource::parse(MRSS).unwrap();
        assert_eq!(r.id, "TNT");
        assert_eq!(r.document.as_deref(), Some(MRSS));
        let escaped = "<rss><channel><title> A &amp; E </title></channel></rss>";
        assert_eq!(Resource::parse(escaped).unwrap().id, "A & E");
        let cdata = "<rss><channel><title><![CDATA[Food & Wine]]></title></channel></rss>";
        assert_eq!(Resource::parse(cdata).unwrap().id, "Food & Wine");
        assert_eq!(Resource::parse("news").unwrap(), Resource::id("news"));
    }

    #[test]
    fn broken_foreign_or_oversize_documents_are_refused() {
        let cases = [
            ("", ResourceError::Empty),
            (
                "<rss><channel><title>x</title></channel>",
                ResourceError::Malformed,
            ),
            (
                "<rss><channel><title>x</channel></title></rss>",
                ResourceError::Malformed,
            ),
            ("<html><title>x</title></html>", ResourceError::NoTitle),
            (
                "<rss><channel><item><title>x</title></item></channel></rss>",
                ResourceError::NoTitle,
            ),
            (
                "<rss><channel><title> </title></channel></rss>",
                ResourceError::NoTitle,
            ),
            (
                "<!DOCTYPE rss [<!ENTITY x \"TNT\">]><rss><channel><title>&x;</title></channel></rss>",
                ResourceError::Malformed,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Resource::parse(input), Err(expected), "{input}");
        }
        let big = format!(
            "<rss><channel><title>x</title>{}</channel></rss>",
            " ".repeat(MAX_DOCUMENT_BYTES)
        );
        assert_eq!(Resource::parse(&big), Err(ResourceError::TooLarge));
    }
}
