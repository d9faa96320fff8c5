//! Paging of the API's list routes: `?limit=` (100 unless given, at most 500) and `?cursor=`
//! (opaque), and the `next` path every list answer carries. The pure part (limits, cursors,
//! cutting a page) is [`crate::domain::paging`].
//!
//! A list route:
//! 1. takes `limit` and `cursor` in its query struct (copy the two documented fields of
//!    [`PageQuery`] into it, since query structs refuse unknown fields);
//! 2. reads the page asked for with [`read`], whose cursors are bound to the route and the
//!    caller's other query parameters (a cursor used with other filters is refused);
//! 3. reads `request.fetch()` rows after `request.after` in its fixed order (keyset: never
//!    `OFFSET`), cuts them with `request.cut(rows, key_of_a_row)`;
//! 4. answers `{"<items>": [...], "next": next_path(&req, page.next)}`: `next` is the path,
//!    with the caller's query and the new cursor, of the page after, or null on the last.
//!
//! Errors are 400 in the JSON error shape with `field` `limit` or `cursor`.

use actix_web::HttpRequest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

pub use crate::domain::paging::{Page, PageRequest};
use crate::error::Error;

/// The paging parameters every list route takes (list routes copy these two fields, with
/// their comments, into their own query struct).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Most entries in the page: 1 to 500, 100 unless given.
    pub limit: Option<String>,
    /// Where the page starts: the `cursor` in the `next` path of the page before. Absent for
    /// the first page.
    pub cursor: Option<String>,
}

/// The query parameters of `req` other than the paging ones, as given.
fn kept_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(name, _)| name != "cursor" && name != "limit")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// The name a list's cursors are bound to: the route's path and the caller's filters.
fn list_name(req: &HttpRequest) -> String {
    let mut pairs = kept_pairs(req);
    pairs.sort();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(pairs);
    format!("{}?{}", req.path(), query.finish())
}

/// Reads the page `req` asks for from its `limit` and `cursor` parameters.
pub fn read<K: Serialize + DeserializeOwned>(
    req: &HttpRequest,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<PageRequest<K>, Error> {
    PageRequest::read(&list_name(req), limit, cursor)
}

/// The path of the page after, from the cursor of a cut [`Page`]: `req`'s path and query
/// (filters and `limit` kept as the caller gave them) with `cursor` set; `None` on the last
/// page.
pub fn next_path(req: &HttpRequest, next: Option<String>) -> Option<String> {
    let cursor = next?;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if name != "cursor" {
            query.append_pair(&name, &value);
        }
    }
    query.append_pair("cursor", &cursor);
    Some(format!("{}?{}", req.path(), query.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_next_path_keeps_the_filters_and_limit_and_replaces_the_cursor() {
        let req = TestRequest::get()
            .uri("/api/v1/pupils?q=Zo%C3%AB&limit=2&cursor=old&year=7")
            .to_http_request();

        let next = next_path(&req, Some("abc-_".into())).unwrap();

        assert_eq!(
            next,
            "/api/v1/pupils?q=Zo%C3%AB&limit=2&year=7&cursor=abc-_"
        );
        assert_eq!(next_path(&req, None), None);
        let first = TestRequest::get().uri("/api/v1/staff").to_http_request();
        assert_eq!(
            next_path(&first, Some("c".into())).as_deref(),
            Some("/api/v1/staff?cursor=c")
        );
    }

    #[test]
    fn cursors_are_bound_to_the_route_and_its_filters_but_not_the_limit() {
        let on = |uri: &str| TestRequest::get().uri(uri).to_http_request();
        let first = read::<i64>(&on("/api/v1/pupils?year=7&limit=1"), Some("1"), None).unwrap();
        let page = first.cut(vec![5i64, 6], |n| *n);
        let next = page.next.unwrap();

        let same = read::<i64>(&on("/api/v1/pupils?year=7"), Some("3"), Some(&next)).unwrap();
        assert_eq!(same.after, Some(5));
        for other in [
            "/api/v1/pupils?year=8",
            "/api/v1/pupils",
            "/api/v1/staff?year=7",
        ] {
            let refused = read::<i64>(&on(other), None, Some(&next)).unwrap_err();
            assert_eq!(refused.field(), Some("cursor"), "{other}");
        }
    }
}
