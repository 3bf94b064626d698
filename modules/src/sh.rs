//! Building POSIX sh scripts safely.

use std::borrow::Cow;

/// Quotes one word for POSIX sh, so that any byte string (spaces, quotes,
/// `$()`, newlines, leading dashes) reaches the command unchanged.
pub fn quote(word: &str) -> Cow<'_, str> {
    if word.is_empty() {
        return Cow::Borrowed("''");
    }
    shell_escape::unix::escape(Cow::Borrowed(word))
}

/// Joins words into one sh command line, each word quoted.
pub fn join<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words.into_iter().map(quote).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_words() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(join(["rm", "-f", "$(x)"]), "rm -f '$(x)'");
    }
}
