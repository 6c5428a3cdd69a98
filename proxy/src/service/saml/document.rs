//! What is checked of a SAML document's shape before samael reads it: UTF-8, no DOCTYPE,
//! namespaces written plainly (so that libxml2 sees the elements seen here); exactly one
//! assertion (encrypted or not) anywhere in it, so that the one samael finds signed is the
//! only one there is; and signatures whose references stay inside the document, through
//! canonicalisation only — libxmlsec1 would otherwise fetch a URL or a file, or run an XPath
//! or XSLT, before it checks any signature value. And one repair: samael reads the `KeyInfo` of an
//! encrypted assertion only when it declares the XML signature namespace itself, which many
//! providers declare further up; the declaration is added where it is missing. Exclusive
//! canonicalisation leaves out a declaration no element uses, so signatures are unchanged.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, Writer};

use super::{SamlError, refused};

const ASSERTION: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const PROTOCOL: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const SUCCESS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:status:Success";
const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const XMLENC: &[u8] = b"http://www.w3.org/2001/04/xmlenc#";
const RSA_1_5: &[u8] = b"http://www.w3.org/2001/04/xmlenc#rsa-1_5";
/// The transforms a signature's reference may apply.
const TRANSFORMS: &[&[u8]] = &[
    b"http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    b"http://www.w3.org/2001/10/xml-exc-c14n#",
    b"http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    b"http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    b"http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    b"http://www.w3.org/2006/12/xml-c14n11",
];

/// The response as samael can read it, once its shape is right.
pub fn response(xml: &str) -> Result<Cow<'_, str>, SamlError> {
    let malformed = |e: quick_xml::Error| refused("malformed", format!("malformed XML: {e}"));
    let mut reader = NsReader::from_str(xml);
    let mut writer = Writer::new(Vec::with_capacity(xml.len() + 64));
    let mut assertions = 0;
    // Whether the first (top-level) status code says Success.
    let mut succeeded = None;
    let mut repaired = false;
    // Whether each open element is an `EncryptedData`.
    let mut in_encrypted_data = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let event = match event {
            Event::DocType(_) => return Err(refused("malformed", "it has a DOCTYPE")),
            Event::Decl(declaration) => {
                utf_8(&declaration)?;
                Event::Decl(declaration)
            }
            Event::Eof => break,
            Event::Empty(e) => {
                assertions += usize::from(is(&ns, ASSERTION) && is_assertion(&e));
                succeeded = succeeded.or_else(|| success(&ns, &e));
                element(&ns, &e)?;
                Event::Empty(e)
            }
            Event::Start(e) => {
                assertions += usize::from(is(&ns, ASSERTION) && is_assertion(&e));
                succeeded = succeeded.or_else(|| success(&ns, &e));
                element(&ns, &e)?;
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
    // A provider that could not sign the user in says so without an assertion; that is
    // counted as what it is, and nothing of its status is repeated.
    if assertions == 0 && succeeded == Some(false) {
        return Err(refused(
            "status",
            "the provider answered with an error status and no assertion",
        ));
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

/// A declared encoding other than UTF-8 would have libxml2 read other elements than these.
fn utf_8(declaration: &quick_xml::events::BytesDecl<'_>) -> Result<(), SamlError> {
    match declaration.encoding() {
        None => Ok(()),
        Some(Ok(encoding)) if encoding.eq_ignore_ascii_case(b"utf-8") => Ok(()),
        Some(_) => Err(refused(
            "malformed",
            "it declares an encoding other than UTF-8",
        )),
    }
}

/// The checks of one element: its attributes well-formed, namespaces without references,
/// signatures only over this document, no RSA 1.5.
fn element(ns: &ResolveResult<'_>, e: &BytesStart<'_>) -> Result<(), SamlError> {
    let malformed = |_| refused("malformed", "an attribute is malformed");
    let mut algorithm = None;
    let mut uri = None;
    for attribute in e.attributes().with_checks(true) {
        let attribute = attribute.map_err(malformed)?;
        let key = attribute.key.as_ref();
        let namespace = key == b"xmlns" || key.starts_with(b"xmlns:");
        if namespace && attribute.value.contains(&b'&') {
            return Err(refused(
                "malformed",
                "a namespace is written with references",
            ));
        }
        let value = || {
            attribute
                .unescape_value()
                .map(|v| v.into_owned())
                .map_err(|_| refused("malformed", "an attribute is malformed"))
        };
        match key {
            b"Algorithm" => algorithm = Some(value()?),
            b"URI" => uri = Some(value()?),
            _ => {}
        }
    }
    let name = e.local_name();
    let name = name.as_ref();
    if is(ns, XMLDSIG.as_bytes()) {
        let outside = |what: &str| Err(refused("reference", format!("its signature {what}")));
        match name {
            b"Reference" if !uri.as_deref().is_some_and(same_document) => {
                return outside("refers outside the document");
            }
            b"Transform"
                if !algorithm
                    .as_deref()
                    .is_some_and(|a| TRANSFORMS.contains(&a.as_bytes())) =>
            {
                return outside("transforms other than by canonicalisation");
            }
            b"Manifest" | b"Object" | b"RetrievalMethod" => {
                return outside("holds a manifest, an object or a retrieval method");
            }
            _ => {}
        }
    }
    if is(ns, XMLENC) {
        if name == b"CipherReference" {
            return Err(refused("reference", "its cipher data is elsewhere"));
        }
        // RSA 1.5 key transport invites padding-oracle attacks on the gateway's key.
        if name == b"EncryptionMethod"
            && algorithm
                .as_deref()
                .is_some_and(|a| a.as_bytes() == RSA_1_5)
        {
            return Err(refused("algorithm", "its key is encrypted with RSA 1.5"));
        }
    }
    Ok(())
}

/// `""` (the whole document) or `#` and an ID.
fn same_document(uri: &str) -> bool {
    uri.is_empty()
        || uri.strip_prefix('#').is_some_and(|id| {
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        })
}

fn is(ns: &ResolveResult<'_>, uri: &[u8]) -> bool {
    *ns == ResolveResult::Bound(Namespace(uri))
}

/// For a protocol `StatusCode`, whether its value is Success.
fn success(ns: &ResolveResult<'_>, e: &BytesStart<'_>) -> Option<bool> {
    if !is(ns, PROTOCOL) || e.local_name().as_ref() != b"StatusCode" {
        return None;
    }
    let value = e
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == b"Value");
    Some(value.is_some_and(|v| v.value.as_ref() == SUCCESS))
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
    fn an_error_status_without_an_assertion_is_refused_as_a_status() {
        let status = |code: &str| {
            format!(
                r#"<p:Response {P}><p:Status><p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:{code}"><p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></p:StatusCode></p:Status></p:Response>"#
            )
        };
        assert_eq!(
            reason(response(&status("Responder")).unwrap_err()),
            "status"
        );
        // Success without an assertion is still an answer with none.
        assert_eq!(
            reason(response(&status("Success")).unwrap_err()),
            "assertions"
        );
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

    /// A response with one assertion signed by reference `uri` through `transform`.
    fn signed(uri: &str, transform: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><p:Response {P} xmlns:d="{XMLDSIG}"><a:Assertion ID="_a1"><d:Signature><d:SignedInfo><d:Reference URI="{uri}"><d:Transforms><d:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><d:Transform Algorithm="{transform}"/></d:Transforms></d:Reference></d:SignedInfo></d:Signature></a:Assertion></p:Response>"#
        )
    }

    const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

    #[test]
    fn signatures_refer_only_inside_the_document_through_canonicalisation() {
        assert!(response(&signed("#_a1", EXC_C14N)).is_ok());
        assert!(response(&signed("", EXC_C14N)).is_ok());
        for uri in [
            "http://127.0.0.1:9/admin",
            "file:///etc/passwd",
            "/dev/zero",
            "#xpointer(/)",
            "#",
        ] {
            let xml = signed(uri, EXC_C14N);
            assert_eq!(reason(response(&xml).unwrap_err()), "reference", "{uri}");
        }
        // An escaped scheme is the scheme.
        let escaped = signed("&#104;ttp://127.0.0.1:9/", EXC_C14N);
        assert_eq!(reason(response(&escaped).unwrap_err()), "reference");
        for transform in [
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
            "http://www.w3.org/TR/1999/REC-xslt-19991116",
            "http://www.w3.org/2002/06/xmldsig-filter2",
        ] {
            let xml = signed("#_a1", transform);
            assert_eq!(
                reason(response(&xml).unwrap_err()),
                "reference",
                "{transform}"
            );
        }
        for extra in [
            "<d:Object/>",
            "<d:Manifest/>",
            r#"<d:KeyInfo><d:RetrievalMethod URI="http://127.0.0.1:9/"/></d:KeyInfo>"#,
        ] {
            let xml = signed("#_a1", EXC_C14N)
                .replace("</d:Signature>", &format!("{extra}</d:Signature>"));
            assert_eq!(reason(response(&xml).unwrap_err()), "reference", "{extra}");
        }
    }

    #[test]
    fn what_libxml2_would_read_otherwise_is_refused() {
        // Another encoding: libxml2 would decode `+ADw-` as `<` in UTF-7.
        let utf_7 = signed("#_a1", EXC_C14N).replace("UTF-8", "UTF-7");
        assert_eq!(reason(response(&utf_7).unwrap_err()), "malformed");
        let lower = signed("#_a1", EXC_C14N).replace("UTF-8", "utf-8");
        assert!(response(&lower).is_ok());
        // A namespace spelt with a reference would hide an assertion from the count.
        let hidden = format!(
            r#"<p:Response {P} xmlns:b="urn:oasis:names:tc:SAML:2.0:&#97;ssertion"><a:Assertion ID="x"/><b:Assertion ID="y"/></p:Response>"#
        );
        assert_eq!(reason(response(&hidden).unwrap_err()), "malformed");
        let broken_attribute =
            format!(r#"<p:Response {P}><a:Assertion ID="x" ID="y"/></p:Response>"#);
        assert_eq!(
            reason(response(&broken_attribute).unwrap_err()),
            "malformed"
        );
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
        let elsewhere = xml.replace(
            "<e:EncryptedKey/>",
            r#"<e:CipherData><e:CipherReference URI="http://127.0.0.1:9/"/></e:CipherData>"#,
        );
        assert_eq!(reason(response(&elsewhere).unwrap_err()), "reference");
    }
}
