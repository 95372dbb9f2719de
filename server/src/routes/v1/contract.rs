//! The v1 document beyond what the handlers' annotations say, written once:
//! - [`SharedResponses`]: the answers every operation shares (a handler's own `responses(…)` say
//!   what is particular to it): a missing or unknown key, a disabled user or a key that may not,
//!   the rate limit, a busy database, and for bodies and parameters the JSON, size and
//!   media-type refusals;
//! - [`with_rules`]: `contract_rules.json`, the constraints the handlers check that their Rust
//!   types cannot say (at least one target, what needs a domain, patterns of names and keys, the
//!   time zones), the bodies without a derived schema, and the links between operations.
//!
//! `schemathesis` checks the result against the server (`scripts/api-contract.sh`).

use serde_json::{json, Map, Value};

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, OpenApi as OpenApiDoc, Ref, RefOr, Response, ResponseBuilder};
use utoipa::Modify;

/// Adds the shared error answers to every operation of the document (an operation's own
/// description of a status is kept).
pub struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                add_shared(operation);
            }
        }
    }
}

fn add_shared(operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let writes = operation.request_body.is_some();
    let parameters = operation.parameters.as_ref().map_or(&[][..], Vec::as_slice);
    let has_path = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path));
    let mut shared: Vec<(&str, Response)> = Vec::new();
    if writes || !parameters.is_empty() {
        shared.push((
            "400",
            error("A parameter or the body is invalid (`invalid_request`, with the reason)"),
        ));
    }
    if secured {
        shared.push((
            "401",
            error("No `Authorization: Bearer` key, or an unknown or revoked one (`unauthorized`)"),
        ));
        shared.push((
            "403",
            error(
                "The key's user is disabled or may not purge, the operation needs an admin's \
                 key, or the key's limits do not allow it (`forbidden`, `key_read_only`, \
                 `key_not_allowed`)",
            ),
        ));
    }
    if has_path {
        shared.push(("404", error("No such resource for this key (`not_found`)")));
    }
    if writes {
        shared.push((
            "413",
            error("The body is larger than the server accepts (`body_too_large`)"),
        ));
        shared.push((
            "415",
            error("The body is not `Content-Type: application/json` (`unsupported_media_type`)"),
        ));
    }
    if secured {
        shared.push((
            "429",
            retry_later(
                "Too many requests with this key (`rate_limited`); `Retry-After` says when",
            ),
        ));
    }
    shared.push((
        "503",
        retry_later(
            "The database is busy or unreachable (`unavailable`); nothing was changed, try again \
             after `Retry-After`",
        ),
    ));
    for (status, response) in shared {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(response));
    }
}

/// An answer with the v1 error body.
fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}

/// An error answer that carries `Retry-After` (whole seconds).
fn retry_later(description: &str) -> Response {
    let seconds = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9]+$"))
        .build();
    let mut response = error(description);
    response.headers.insert(
        "Retry-After".to_owned(),
        HeaderBuilder::new()
            .schema(seconds)
            .description(Some("Seconds to wait before trying again"))
            .build(),
    );
    response
}

/// The rules, as written beside this file.
const RULES: &str = include_str!("contract_rules.json");

/// `doc` with the rules of `contract_rules.json` applied, as served.
pub fn with_rules(doc: &OpenApiDoc) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    let rules: Value = serde_json::from_str(RULES).unwrap_or_default();
    let schemas = &mut doc["components"]["schemas"];
    for (name, rule) in rules["components"].as_object().into_iter().flatten() {
        let derived = schemas[name].take();
        schemas[name] = json!({ "allOf": [derived, rule] });
    }
    for (name, schema) in rules["schemas"].as_object().into_iter().flatten() {
        schemas[name] = schema.clone();
    }
    schemas["TimeZone"]["anyOf"] = json!([
        { "enum": engine::time::zone_names().collect::<Vec<_>>() },
        { "pattern": engine::time::ZONE_OFFSET_PATTERN },
    ]);
    for (at, name) in rules["request_bodies"].as_object().into_iter().flatten() {
        if let Some(operation) = operation_mut(&mut doc, at) {
            operation["requestBody"]["content"]["application/json"]["schema"] =
                json!({ "$ref": format!("#/components/schemas/{}", name.as_str().unwrap_or("")) });
        }
    }
    for (at, links) in rules["links"].as_object().into_iter().flatten() {
        if let Some(operation) = operation_mut(&mut doc, at) {
            if let Some(success) = operation["responses"]["200"].as_object_mut() {
                success.insert("links".to_owned(), links.clone());
            }
        }
    }
    doc
}

/// The operation at `"{path} {method}"` in `doc`.
fn operation_mut<'a>(doc: &'a mut Value, at: &str) -> Option<&'a mut Map<String, Value>> {
    let (path, method) = at.rsplit_once(' ')?;
    doc["paths"][path][method].as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_something_the_document_has() {
        let (_, doc) = super::super::routes();
        let raw = serde_json::to_value(&doc).unwrap();
        let rules: Value = serde_json::from_str(RULES).expect("contract_rules.json is JSON");
        for name in rules["components"].as_object().unwrap().keys() {
            assert!(
                raw["components"]["schemas"][name].is_object(),
                "no component {name}"
            );
        }
        for at in rules["request_bodies"]
            .as_object()
            .unwrap()
            .keys()
            .chain(rules["links"].as_object().unwrap().keys())
        {
            let (path, method) = at.rsplit_once(' ').unwrap();
            assert!(raw["paths"][path][method].is_object(), "no operation {at}");
        }
        let served = with_rules(&doc);
        let zones = served["components"]["schemas"]["TimeZone"]["anyOf"][0]["enum"]
            .as_array()
            .expect("zone names");
        assert!(zones.iter().any(|z| z == "Asia/Shanghai"));
    }
}
