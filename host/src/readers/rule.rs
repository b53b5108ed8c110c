//! Which reader is the managed one: a configured name pattern, or by default the second reader.

/// The rule that picks the managed reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderRule {
    /// The second reader in PC/SC order; with fewer readers there is none (the only reader is
    /// the sponsor's, and we never use it without being asked).
    Second,
    /// The first reader whose name matches this pattern (`*`, `?`; case-insensitive).
    Pattern(String),
}

impl ReaderRule {
    /// The rule from the config's `managedReader`.
    pub fn from_config(pattern: Option<&str>) -> ReaderRule {
        match pattern {
            Some(p) => ReaderRule::Pattern(p.to_owned()),
            None => ReaderRule::Second,
        }
    }

    /// The index of the managed reader among `names`.
    pub fn pick<S: AsRef<str>>(&self, names: &[S]) -> Option<usize> {
        match self {
            ReaderRule::Second => (names.len() >= 2).then_some(1),
            ReaderRule::Pattern(pattern) => names.iter().position(|n| wildcard_match(pattern, n.as_ref())),
        }
    }
}

/// Case-insensitive glob match with `*` (any run) and `?` (one character).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_second_needs_two_readers() {
        assert_eq!(ReaderRule::Second.pick::<&str>(&[]), None);
        assert_eq!(ReaderRule::Second.pick(&["Sponsor"]), None);
        assert_eq!(ReaderRule::Second.pick(&["Sponsor", "User", "Third"]), Some(1));
    }

    #[test]
    fn pick_pattern_takes_first_match() {
        let names = ["Virtual PCD 00 00", "Virtual PCD 00 01", "OMNIKEY 3121 00 00"];
        let rule = |p: &str| ReaderRule::Pattern(p.into());
        assert_eq!(rule("*00 01").pick(&names), Some(1));
        assert_eq!(rule("omnikey*").pick(&names), Some(2));
        assert_eq!(rule("Virtual PCD 00 0?").pick(&names), Some(0));
        assert_eq!(rule("Gemalto*").pick(&names), None);
    }

    #[test]
    fn wildcard_match_cases() {
        let cases = [
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*01", "Virtual PCD 00 01", true),
            ("?", "é", true),
            ("A?C", "abc", true),
            ("**x", "x", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(wildcard_match(pattern, text), expected, "{pattern} ~ {text}");
        }
    }
}
