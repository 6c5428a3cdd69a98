//! What is checked of a SAML document's shape before samael reads it: no DOCTYPE, and
//! exactly one assertion (encrypted or not) anywhere in it, so that the one samael finds
//! signed is the only one there is. And one repair: samael reads the `KeyInfo` of an
//! encrypted assertion only when it declares the XML signature namespace itself, which many
//! providers declare further up; the declaration is added where it is missing. Exclusive
//! canonicalisation leaves out a declaration no element uses, so signatures are unchanged.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, Writer};

use super::{SamlError, refused};

const ASSERTION: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const XMLENC: &[u8] = b"http://www.w3.org/2001/04/xmlenc#";
const RSA_1_5: &[u8] = b"http://www.w3.org/2001/04/xmlenc#rsa-1_5";

/// The response as samael can read it, once its shape is right.
pub fn response(xml: &str) -> Result<Cow<'_, str>, SamlError> {
    let malformed = |e: quick_xml::Error| refused("malformed", format!("malformed XML: {e}"));
    let mut reader = NsReader::from_str(xml);
    let mut writer = Writer::new(Vec::with_capacity(xml.len() + 64));
    let mut assertions = 0;
    let mut repaired = false;
    // Whether each open element is an `EncryptedData`.
    let mut in_encrypted_data = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let event = match event {
            Event::DocType(_) => return Err(refused("malformed", "it has a DOCTYPE")),
            Event::Eof => break,
            Event::Empty(e) => {
                assertions += usize::from(is(&ns, ASSERTION) && is_assertion(&e));
                no_rsa_1_5(&ns, &e)?;
                Event::Empty(e)
            }
            Event::Start(e) => {
                assertions += usize::from(is(&ns, ASSERTION) && is_assertion(&e));
                no_rsa_1_5(&ns, &e)?;
                let name = e.local_name();
                let encrypted_data = is(&ns, XMLENC) && name.as_ref() == b"EncryptedData";
                let repair = is(&ns, XMLDSIG.as_bytes())
                    && name.as_ref() == b"KeyInfo"
                    && in_encrypted_data.last() == Some(&true)
                    && !e
                        .attributes()
                        .flatten()
                        .any(|a| a.key.as_ref() == b"xmlns:ds");
                in_encrypted_data.push(encrypted_data);
                if repair {
                    repaired = true;
                    let mut declared = e.to_owned();
                    declared.push_attribute(("xmlns:ds", XMLDSIG));
                    Event::Start(declared)
                } else {
                    Event::Start(e)
                }
            }
            Event::End(e) => {
                in_encrypted_data.pop();
                Event::End(e)
            }
            other => other,
        };
        writer
            .write_event(event)
            .map_err(|e| refused("malformed", e.to_string()))?;
    }
    if assertions != 1 {
        return Err(refused(
            "assertions",
            format!("it holds {assertions} assertions, not one"),
        ));
    }
    if !repaired {
        return Ok(Cow::Borrowed(xml));
    }
    String::from_utf8(writer.into_inner())
        .map(Cow::Owned)
        .map_err(|_| refused("malformed", "not UTF-8"))
}

/// RSA 1.5 key transport invites padding-oracle attacks on the gateway's key: refused.
fn no_rsa_1_5(ns: &ResolveResult<'_>, e: &BytesStart<'_>) -> Result<(), SamlError> {
    let rsa_1_5 = is(ns, XMLENC)
        && e.local_name().as_ref() == b"EncryptionMethod"
        && e.attributes()
            .flatten()
            .any(|a| a.key.as_ref() == b"Algorithm" && a.value.as_ref() == RSA_1_5);
    if rsa_1_5 {
        return Err(refused("algorithm", "its key is encrypted with RSA 1.5"));
    }
    Ok(())
}

fn is(ns: &ResolveResult<'_>, uri: &[u8]) -> bool {
    *ns == ResolveResult::Bound(Namespace(uri))
}

fn is_assertion(e: &BytesStart<'_>) -> bool {
    matches!(
        e.local_name().as_ref(),
        b"Assertion" | b"EncryptedAssertion"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = r#"xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:a="urn:oasis:names:tc:SAML:2.0:assertion""#;

    fn reason(e: SamlError) -> &'static str {
        match e {
            SamlError::Refused { reason, .. } => reason,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn one_assertion_passes_unchanged() {
        let xml = format!(
            r#"<p:Response {P}><a:Assertion ID="x"><a:Subject/></a:Assertion></p:Response>"#
        );
        assert!(matches!(response(&xml), Ok(Cow::Borrowed(same)) if same == xml));
    }

    #[test]
    fn none_two_or_a_nested_one_are_refused() {
        for inner in [
            "",
            r#"<a:Assertion ID="x"/><a:Assertion ID="y"/>"#,
            r#"<a:Assertion ID="x"><p:Extensions><a:Assertion ID="y"/></p:Extensions></a:Assertion>"#,
            r#"<a:Assertion ID="x"/><a:EncryptedAssertion/>"#,
        ] {
            let xml = format!("<p:Response {P}>{inner}</p:Response>");
            assert_eq!(reason(response(&xml).unwrap_err()), "assertions", "{inner}");
        }
        // Another namespace's element of that name is not an assertion.
        let xml = format!(
            r#"<p:Response {P} xmlns:o="urn:other"><a:Assertion ID="x"/><o:Assertion/></p:Response>"#
        );
        assert!(response(&xml).is_ok());
    }

    #[test]
    fn a_doctype_or_broken_xml_is_refused() {
        let doctype = format!(
            r#"<!DOCTYPE p:Response [<!ENTITY e "x">]><p:Response {P}><a:Assertion ID="x"/></p:Response>"#
        );
        assert_eq!(reason(response(&doctype).unwrap_err()), "malformed");
        let broken = format!("<p:Response {P}><a:Assertion ID=\"x\"></p:Response>");
        assert_eq!(reason(response(&broken).unwrap_err()), "malformed");
    }

    #[test]
    fn the_key_info_of_encrypted_data_declares_the_signature_namespace() {
        let xml = format!(
            r#"<p:Response {P} xmlns:d="{XMLDSIG}" xmlns:e="http://www.w3.org/2001/04/xmlenc#"><d:Signature><d:KeyInfo/></d:Signature><a:EncryptedAssertion><e:EncryptedData><d:KeyInfo><e:EncryptedKey/></d:KeyInfo></e:EncryptedData></a:EncryptedAssertion></p:Response>"#
        );
        let repaired = response(&xml).unwrap();
        assert_eq!(
            repaired,
            xml.replace(
                "<e:EncryptedData><d:KeyInfo>",
                &format!(r#"<e:EncryptedData><d:KeyInfo xmlns:ds="{XMLDSIG}">"#)
            )
        );
        // Declared already: left as it is.
        assert!(matches!(response(&repaired), Ok(Cow::Borrowed(_))));

        let rsa_1_5 = xml.replace(
            "<e:EncryptedKey/>",
            r#"<e:EncryptedKey><e:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/></e:EncryptedKey>"#,
        );
        assert_eq!(reason(response(&rsa_1_5).unwrap_err()), "algorithm");
    }
}
