//! Environment references in defaults: `$VAR`, `${VAR}` and
//! `${VAR:-fallback}` (the fallback when VAR is unset or empty; it may hold
//! references itself).

/// `text` with its references replaced from `env`; an unset variable reads
/// as empty.
pub(crate) fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(inner) = rest.strip_prefix('{') {
            let Some(close) = matching_brace(inner) else {
                out.push('$');
                continue;
            };
            let (name, fallback) = match inner[..close].split_once(":-") {
                Some((name, fallback)) => (name, Some(fallback)),
                None => (&inner[..close], None),
            };
            let value = env(name).filter(|v| !v.is_empty());
            match (value, fallback) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(fallback)) => out.push_str(&expand(fallback, env)),
                (None, None) => {}
            }
            rest = &inner[close + 1..];
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push_str(&env(&rest[..end]).unwrap_or_default());
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Where the `}` closing the reference that `text` starts inside of is.
fn matching_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn references_read_the_environment_with_fallbacks() {
        let text = "${XDG_CACHE_HOME:-$HOME/.cache}/mixdown";
        assert_eq!(
            expand(text, &env(&[("HOME", "/home/u")])),
            "/home/u/.cache/mixdown"
        );
        let both = env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")]);
        assert_eq!(expand(text, &both), "/c/mixdown");
        let empty = env(&[("XDG_CACHE_HOME", ""), ("HOME", "/h")]);
        assert_eq!(expand(text, &empty), "/h/.cache/mixdown");
        assert_eq!(expand("${TMPDIR:-/tmp}", &env(&[])), "/tmp");
        assert_eq!(expand("plain", &env(&[])), "plain");
        assert_eq!(expand("${unclosed", &env(&[])), "${unclosed");
    }
}
