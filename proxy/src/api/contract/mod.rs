//! What each route takes and answers, declared beside its handler and read by the route
//! table; `document` makes the OpenAPI 3.1 description of the whole API from it.

mod admin;
pub(super) mod answers;
mod document;

pub use document::{document, document_json};

use utoipa::ToSchema;
use utoipa::openapi::{Ref, RefOr, schema::Schema};

/// Schemas met while describing answers, by name, to list once under `components`.
pub(super) type Schemas = Vec<(String, RefOr<Schema>)>;

/// An answer type's schema: registered (with the types it holds) and referred to.
pub(super) type SchemaOf = fn(&mut Schemas) -> RefOr<Schema>;

/// `T`'s schema, for an answer or a body: what serialises the answer describes it.
pub(super) fn of<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
    Ref::from_schema_name(T::name()).into()
}

/// A contract whose parameters are read from the query or a form or JSON body.
macro_rules! contract {
    ($summary:expr, [$($param:expr),* $(,)?], [$($answer:expr),* $(,)?]) => {
        $crate::api::contract::Contract {
            summary: $summary,
            params: &[$($param),*],
            body: None,
            headers: &[],
            answers: &[$($answer),*],
            links: &[],
        }
    };
}
pub(super) use contract;

/// The root element `T`'s schema names for XML, as `prefix:name`.
#[cfg(test)]
pub(super) fn xml_root<T: ToSchema>() -> String {
    use utoipa::openapi::schema::Schema;
    let RefOr::T(Schema::Object(object)) = T::schema() else {
        panic!("{} is an object", T::name());
    };
    let xml = object.xml.expect("an XML name");
    let name = xml.name.expect("a root name");
    match xml.prefix {
        Some(prefix) => format!("{prefix}:{name}"),
        None => name.into_owned(),
    }
}

/// One method of one route: what it reads and every answer it gives besides those every
/// route of its kind gives (credentials refused, limits, the store unavailable).
pub(super) struct Contract {
    pub summary: &'static str,
    /// Query parameters on GET and DELETE; on POST, the fields of a form or JSON body
    /// (which the query may carry too).
    pub params: &'static [Param],
    /// A JSON body of this type instead of `params`' fields.
    pub body: Option<SchemaOf>,
    /// Request headers it reads, besides credentials and the device's.
    pub headers: &'static [Param],
    pub answers: &'static [Answer],
    /// Where the first answer leads: the calls its values feed.
    pub links: &'static [Link],
}

/// An OpenAPI link: a later call (by its operation ID) made with values of this answer
/// (runtime expressions such as `$response.body#/code`, or constants).
pub(super) struct Link {
    pub name: &'static str,
    pub operation: &'static str,
    /// `path.requestor`, `query.deviceId`, … and what each is.
    pub parameters: &'static [(&'static str, &'static str)],
    /// Body fields and what each is.
    pub body: &'static [(&'static str, &'static str)],
}

pub(super) const fn leads_to(
    name: &'static str,
    operation: &'static str,
    parameters: &'static [(&'static str, &'static str)],
    body: &'static [(&'static str, &'static str)],
) -> Link {
    Link {
        name,
        operation,
        parameters,
        body,
    }
}

/// The same requestor as the call that led here.
pub(super) const SAME_REQUESTOR: (&str, &str) = ("path.requestor", "$request.path.requestor");

#[derive(Clone, Copy)]
pub(super) struct Param {
    pub name: &'static str,
    pub required: bool,
    pub kind: Kind,
    pub about: &'static str,
}

/// How a parameter is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    /// Whole seconds.
    Seconds,
    /// A device ID, as `DeviceId` reads it.
    DeviceId,
    /// A user ID, as `UserId` reads it (and the Matchmaker dialect its device IDs).
    UserId,
    /// A JSON object of strings (in a form: its JSON text).
    Strings,
    /// One resource ID, or an MRSS document naming it.
    Resource,
}

pub(super) const fn required(name: &'static str, about: &'static str) -> Param {
    Param {
        name,
        required: true,
        kind: Kind::Text,
        about,
    }
}

pub(super) const fn optional(name: &'static str, about: &'static str) -> Param {
    Param {
        name,
        required: false,
        kind: Kind::Text,
        about,
    }
}

impl Param {
    pub const fn of(self, kind: Kind) -> Self {
        Self { kind, ..self }
    }
}

pub(super) struct Answer {
    pub status: u16,
    pub about: &'static str,
    pub body: Body,
}

/// What an answer carries.
#[derive(Clone, Copy)]
pub(super) enum Body {
    Empty,
    /// JSON of this type.
    Json(SchemaOf),
    /// JSON of this type; on Adobe v1 routes, XML too for callers that ask for it (under
    /// the root element its schema names).
    JsonOrXml(SchemaOf),
    /// JSON of one of these types.
    OneOf(&'static [SchemaOf]),
    /// The route's error shape (its dialect's fields, or a page on the pages' routes).
    Error,
    /// An HTML page.
    Page,
    /// `Location` names where the browser goes next.
    Redirect,
    Svg,
    /// A SAML metadata document.
    SamlMetadata,
}

pub(super) const fn gives(status: u16, about: &'static str, body: Body) -> Answer {
    Answer {
        status,
        about,
        body,
    }
}

/// A refusal of the route's error shape.
pub(super) const fn refusal(status: u16, about: &'static str) -> Answer {
    gives(status, about, Body::Error)
}
