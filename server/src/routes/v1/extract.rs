//! Reading v1 requests as the document describes them: query strings and path segments refused
//! with the v1 error body (axum's own extractors answer in plain text), and JSON bodies read as
//! JSON Schema reads them (an object is an object, `3.0` is an integer).

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::error::V1Error;

/// A query string: a value of the wrong type, or a parameter not listed, is `invalid_request`.
#[derive(Debug)]
pub struct V1Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for V1Query<T> {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| V1Query(value))
            .map_err(|rejection| {
                V1Error::invalid(format!("invalid query string: {}", rejection.body_text()))
            })
    }
}

/// Path segments: one that does not decode is `invalid_request`.
#[derive(Debug)]
pub struct V1Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for V1Path<T> {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| V1Path(value))
            .map_err(|rejection| V1Error::invalid(rejection.body_text()))
    }
}

/// The largest page a list answers.
pub const MAX_PAGE: u32 = 200;

/// A list's page size: 50 when absent, refused outside 1 to [`MAX_PAGE`].
pub fn page_size(limit: Option<u32>) -> Result<u32, V1Error> {
    match limit.unwrap_or(50) {
        size @ 1..=MAX_PAGE => Ok(size),
        _ => Err(V1Error::invalid(format!("limit is 1 to {MAX_PAGE}"))),
    }
}

/// A body as `T`: a JSON object (serde would build a struct from an array too), with numbers
/// that are whole (`3.0`) read as the integers JSON Schema says they are.
pub fn json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, V1Error> {
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|e| V1Error::invalid(format!("invalid JSON body: {e}")))?;
    if !value.is_object() {
        return Err(V1Error::invalid("the body must be a JSON object"));
    }
    whole_numbers_as_integers(&mut value);
    T::deserialize(value).map_err(|e| V1Error::invalid(format!("invalid JSON body: {e}")))
}

/// Rewrites every whole float (`1038.0`) as an integer, everywhere in `value`.
fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64()) {
                if float.fract() == 0.0 && float.abs() < 9.0e15 {
                    *number = serde_json::Number::from(float as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// For `#[serde(deserialize_with)]`: a nested struct from a JSON object only.
pub fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    let fields = Map::<String, Value>::deserialize(d)?;
    T::deserialize(Value::Object(fields)).map_err(serde::de::Error::custom)
}

/// For `#[serde(deserialize_with)]`: a list of structs, each from a JSON object only.
pub fn objects<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Vec::<Map<String, Value>>::deserialize(d)?
        .into_iter()
        .map(|fields| T::deserialize(Value::Object(fields)).map_err(serde::de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Port {
        port: u16,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "objects")]
        ports: Vec<Port>,
    }

    #[test]
    fn bodies_are_objects_and_whole_floats_are_integers() {
        let body: Body = json_object(br#"{"ports": [{"port": 1038.0}]}"#).expect("read");
        assert_eq!(body.ports, vec![Port { port: 1038 }]);
        assert!(json_object::<Body>(br#"[[{"port": 1}]]"#).is_err());
        assert!(json_object::<Body>(br#"{"ports": [[1]]}"#).is_err());
        assert!(json_object::<Body>(br#"{"ports": [{"port": 1.5}]}"#).is_err());
    }
}
