//! Paging through long lists (keyset paging), the pure part: how many rows a page holds, the
//! opaque cursor that says where the next page starts, and cutting a page from the rows read.
//!
//! A list is read in a fixed total order (its sort key ending in the row's id, so no two rows
//! tie). A page is the first `limit` rows after a position, the position being the sort key of
//! the last row of the page before: `WHERE key > last ORDER BY key LIMIT limit + 1`, never
//! `OFFSET`. Rows added while a client pages through a list therefore never shift the rows it
//! has not read yet: every row that existed when paging began comes exactly once, none twice.
//!
//! How to page a new list:
//! 1. pick its key type `K` (a tuple such as `(String, String, i64)` of the sort columns and
//!    the id, serializable with serde) and a list name;
//! 2. read [`PageRequest::read`] from `?limit=` and `?cursor=` (in the API,
//!    `crate::web::api::paging` does this and builds `next`);
//! 3. read `request.fetch()` rows after `request.after` in the list's order;
//! 4. [`PageRequest::cut`] the rows into a [`Page`], whose `next` is the cursor of the page
//!    after (or `None` on the last page).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Rows a page holds when the client does not say.
pub const DEFAULT_LIMIT: usize = 100;

/// Most rows a page may hold.
pub const MAX_LIMIT: usize = 500;

/// The cursor format written now; a cursor of another version is refused.
const VERSION: u8 = 1;

/// Bytes of the check sum closing each cursor.
const CHECK_BYTES: usize = 8;

/// Longest cursor read (a key of a few names and numbers is well under it).
const MAX_CURSOR_CHARS: usize = 2048;

/// Reads `?limit=`: [`DEFAULT_LIMIT`] when absent or blank, else a whole number from 1 to
/// [`MAX_LIMIT`]; anything else is refused, naming the field `limit`.
pub fn read_limit(raw: Option<&str>) -> Result<usize, Error> {
    let Some(value) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    match value.parse::<usize>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(Error::invalid(
            "limit",
            format!("limit must be a whole number from 1 to {MAX_LIMIT}, got {value:?}"),
        )),
    }
}

/// Writes the cursor that starts a page of `list` after the row with sort key `key`: URL-safe
/// base64 of a version byte, the key as JSON, and a check sum of both with the list's name.
///
/// `list` names the list and its filters (e.g. `pupils?year=7`), so that a cursor handed to
/// another list, or with other filters, is refused rather than read as a position in it. The
/// check sum refuses cursors altered or cut short; it is no secret and needs none: a cursor
/// grants nothing, since every page applies the caller's school, role and filters afresh.
pub fn encode_cursor<K: Serialize>(list: &str, key: &K) -> String {
    // A key of strings and numbers always serializes; an empty one would be refused on reading.
    let json = serde_json::to_vec(key).unwrap_or_default();
    let mut bytes = Vec::with_capacity(1 + json.len() + CHECK_BYTES);
    bytes.push(VERSION);
    bytes.extend_from_slice(&json);
    let check = check_sum(list, &bytes);
    bytes.extend_from_slice(&check);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a cursor [`encode_cursor`] wrote for `list`; a malformed, altered, truncated or
/// foreign one (another list, other filters, another version) is refused, naming the field
/// `cursor`.
pub fn decode_cursor<K: DeserializeOwned>(list: &str, raw: &str) -> Result<K, Error> {
    let refused = || {
        Error::invalid(
            "cursor",
            "cursor is not one this list gave: start again from the first page",
        )
    };
    if raw.len() > MAX_CURSOR_CHARS {
        return Err(refused());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| refused())?;
    if bytes.len() < 1 + CHECK_BYTES || bytes[0] != VERSION {
        return Err(refused());
    }
    let (body, check) = bytes.split_at(bytes.len() - CHECK_BYTES);
    if check_sum(list, body) != check {
        return Err(refused());
    }
    serde_json::from_slice(&body[1..]).map_err(|_| refused())
}

fn check_sum(list: &str, body: &[u8]) -> [u8; CHECK_BYTES] {
    let mut hash = Sha256::new();
    hash.update(b"steadfast-page-cursor\0");
    hash.update(list.as_bytes());
    hash.update(b"\0");
    hash.update(body);
    let digest = hash.finalize();
    let mut check = [0u8; CHECK_BYTES];
    check.copy_from_slice(&digest[..CHECK_BYTES]);
    check
}

/// One page asked for: at most `limit` rows after the position `after` (from the start when
/// `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<K> {
    /// The list's name and filters, which its cursors are bound to.
    pub list: String,
    pub limit: usize,
    pub after: Option<K>,
}

/// A page cut from the rows read: its rows, and the cursor of the page after (`None` when this
/// is the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each row turned into another shape.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

impl<K: Serialize + DeserializeOwned> PageRequest<K> {
    /// Reads `?limit=` and `?cursor=` for the list named `list` (name and filters; see
    /// [`encode_cursor`]).
    pub fn read(list: &str, limit: Option<&str>, cursor: Option<&str>) -> Result<Self, Error> {
        let limit = read_limit(limit)?;
        let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            Some(raw) => Some(decode_cursor(list, raw)?),
            None => None,
        };
        Ok(PageRequest {
            list: list.to_string(),
            limit,
            after,
        })
    }

    /// The first page of `list`, `limit` rows long (pages of the web interface use it).
    pub fn first(list: &str, limit: usize) -> Self {
        PageRequest {
            list: list.to_string(),
            limit: limit.clamp(1, MAX_LIMIT),
            after: None,
        }
    }

    /// How many rows to read after `after`: one more than the page holds, to tell whether
    /// another page follows.
    pub fn fetch(&self) -> usize {
        self.limit + 1
    }

    /// [`Self::fetch`] as the `i64` a SQL `LIMIT` takes.
    pub fn fetch_i64(&self) -> i64 {
        i64::try_from(self.fetch()).unwrap_or(i64::MAX)
    }

    /// Cuts the page from `rows`, the first rows after `after` in the list's order (at least
    /// [`Self::fetch`] of them when there are that many): the first `limit`, with the cursor
    /// after the last of them when more rows were read.
    pub fn cut<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T> {
        if rows.len() <= self.limit {
            return Page {
                items: rows,
                next: None,
            };
        }
        rows.truncate(self.limit);
        let next = rows
            .last()
            .map(|last| encode_cursor(&self.list, &key(last)));
        Page { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Key = (String, String, i64);

    fn key() -> Key {
        ("Okafor".into(), "Amir".into(), 42)
    }

    #[test]
    fn a_cursor_reads_back_as_the_key_it_was_written_from() {
        let cursor = encode_cursor("pupils?year=7", &key());

        assert_eq!(
            decode_cursor::<Key>("pupils?year=7", &cursor).unwrap(),
            key()
        );
        assert!(cursor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let accented = ("Łukasiewicz".to_string(), "Émile".to_string(), -1);
        let cursor = encode_cursor("pupils", &accented);
        assert_eq!(decode_cursor::<Key>("pupils", &cursor).unwrap(), accented);
        let time = chrono::NaiveDate::from_ymd_opt(2026, 3, 4)
            .unwrap()
            .and_hms_nano_opt(10, 11, 12, 123_456_000)
            .unwrap();
        let cursor = encode_cursor("timeline", &(time, 2u8, 7i64));
        assert_eq!(
            decode_cursor::<(chrono::NaiveDateTime, u8, i64)>("timeline", &cursor).unwrap(),
            (time, 2, 7)
        );
    }

    #[test]
    fn altered_cut_or_foreign_cursors_are_refused() {
        let cursor = encode_cursor("pupils", &key());
        let refused = |raw: &str| {
            let error = decode_cursor::<Key>("pupils", raw).unwrap_err();
            assert_eq!(error.field(), Some("cursor"), "{raw}");
        };
        // Each character changed in turn.
        for at in 0..cursor.len() {
            let mut altered: Vec<char> = cursor.chars().collect();
            altered[at] = if altered[at] == 'A' { 'B' } else { 'A' };
            let altered: String = altered.into_iter().collect();
            if altered != cursor {
                refused(&altered);
            }
        }
        refused(&cursor[..cursor.len() - 1]);
        refused(&cursor[..cursor.len() - 4]);
        refused("");
        refused("not a cursor!");
        refused("AQ");
        refused(&"A".repeat(5000));
        // The same bytes re-encoded as standard base64 with padding are not read either.
        refused(&format!("{cursor}=="));
        // Another list, or the same list with other filters.
        assert!(decode_cursor::<Key>("staff", &cursor).is_err());
        assert!(decode_cursor::<Key>("pupils?year=7", &cursor).is_err());
        // The right list, a key of another shape.
        assert!(decode_cursor::<(i64, i64)>("pupils", &cursor).is_err());
        // Another version.
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        bytes[0] = 2;
        let body_len = bytes.len() - CHECK_BYTES;
        let check = check_sum("pupils", &bytes[..body_len]);
        bytes[body_len..].copy_from_slice(&check);
        refused(&URL_SAFE_NO_PAD.encode(bytes));
    }

    #[test]
    fn limits_default_to_a_hundred_and_stop_at_five_hundred() {
        assert_eq!(read_limit(None).unwrap(), 100);
        assert_eq!(read_limit(Some(" ")).unwrap(), 100);
        assert_eq!(read_limit(Some("1")).unwrap(), 1);
        assert_eq!(read_limit(Some("500")).unwrap(), 500);
        for wrong in ["0", "501", "-1", "ten", "1.5", "99999999999999999999999"] {
            assert_eq!(read_limit(Some(wrong)).unwrap_err().field(), Some("limit"));
        }
    }

    #[test]
    fn a_page_is_cut_with_the_cursor_of_its_last_row_when_more_follow() {
        let request = PageRequest::<i64>::read("numbers", Some("2"), None).unwrap();
        assert_eq!(request.fetch(), 3);

        let page = request.cut(vec![1i64, 2, 3], |n| *n);
        assert_eq!(page.items, vec![1, 2]);
        let next = page.next.expect("a next page");
        let after = PageRequest::<i64>::read("numbers", Some("2"), Some(&next)).unwrap();
        assert_eq!(after.after, Some(2));

        let last = after.cut(vec![3i64, 4], |n| *n);
        assert_eq!(last.items, vec![3, 4]);
        assert_eq!(last.next, None);
        assert_eq!(after.cut(Vec::<i64>::new(), |n| *n).next, None);
    }
}
