//! How well a pupil's name answers a search, so that the pupil whose name was typed comes
//! first: every word typed being the whole of the given or family name ranks first, every
//! word the start of one next, then the rest (a word inside a name, or a UPN), each tier by
//! family then given name.

/// How well one pupil's name answers the words typed; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    /// Every word typed is the whole of the given or the family name.
    Exact,
    /// Every word typed is a name or the start of one, at least one only the start.
    Prefix,
    /// Anything else that matched: a word inside a name, a UPN.
    Other,
}

/// How one word typed answers a name: the whole of it, its start, or neither.
fn word_match(word: &str, given: &str, family: &str) -> NameMatch {
    let names = [given, family];
    if names.contains(&word) {
        NameMatch::Exact
    } else if names.iter().any(|name| name.starts_with(word)) {
        NameMatch::Prefix
    } else {
        NameMatch::Other
    }
}

/// How well a pupil named `given` `family` answers `text`, ignoring case: the worst of its
/// words. Blank text answers `Other`.
pub fn name_match(text: &str, given: &str, family: &str) -> NameMatch {
    let (given, family) = (given.to_lowercase(), family.to_lowercase());
    text.to_lowercase()
        .split_whitespace()
        .map(|word| word_match(word, &given, &family))
        .max()
        .unwrap_or(NameMatch::Other)
}

/// Sorts search results so the best answers to `text` come first; `names` gives each
/// result's given and family name. Within a tier, by family then given name (the order
/// they came in when those are equal).
pub fn rank_by_name<T>(text: &str, results: &mut [T], names: impl Fn(&T) -> (&str, &str)) {
    results.sort_by_cached_key(|item| {
        let (given, family) = names(item);
        (
            name_match(text, given, family),
            family.to_lowercase(),
            given.to_lowercase(),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_names_rank_above_starts_above_the_rest() {
        assert_eq!(name_match("Sam Okafor", "Sam", "Okafor"), NameMatch::Exact);
        assert_eq!(name_match("okafor", "Sam", "Okafor"), NameMatch::Exact);
        assert_eq!(name_match("sam oka", "Sam", "Okafor"), NameMatch::Prefix);
        assert_eq!(
            name_match("Sam Okafor", "Samuel", "Okafor"),
            NameMatch::Prefix
        );
        assert_eq!(name_match("kafor", "Sam", "Okafor"), NameMatch::Other);
        assert_eq!(name_match("A1234", "Sam", "Okafor"), NameMatch::Other);
        assert_eq!(name_match("  ", "Sam", "Okafor"), NameMatch::Other);
    }

    #[test]
    fn case_is_ignored_beyond_ascii() {
        assert_eq!(name_match("ÉLODIE", "Élodie", "Brun"), NameMatch::Exact);
        assert_eq!(name_match("élo", "Élodie", "Brun"), NameMatch::Prefix);
    }

    #[test]
    fn the_name_typed_comes_before_a_longer_name_containing_it() {
        let mut found = vec![
            ("Amira", "Bahrami"),
            ("Lee", "Ahmadi"),
            ("Lee", "Ahmad"),
            ("Ahmad", "Zane"),
            ("Leona", "Ahmadou"),
        ];
        rank_by_name("Lee Ahmad", &mut found, |(g, f)| (g, f));
        assert_eq!(
            found,
            vec![
                ("Lee", "Ahmad"),
                ("Lee", "Ahmadi"),
                ("Leona", "Ahmadou"),
                ("Amira", "Bahrami"),
                ("Ahmad", "Zane"),
            ]
        );
        let mut found = vec![("Sam", "Bahmad"), ("Ahmad", "Zane"), ("Tom", "Ahmadi")];
        rank_by_name("ahmad", &mut found, |(g, f)| (g, f));
        assert_eq!(
            found,
            vec![("Ahmad", "Zane"), ("Tom", "Ahmadi"), ("Sam", "Bahmad")]
        );
    }
}
