//! Masking: every secret value of a run, and the forms a script is likely to print it in, is
//! replaced by `***` before a line is stored or sent. The forms: the value itself; its base64
//! (standard and URL-safe, padded or not, and inside a longer base64 text such as
//! `Basic base64(user:password)`, where only the characters the value alone decides are sure);
//! its URL encodings (`quote`, `quote(safe="")`, `quote_plus`); and its JSON string escapes
//! (as serde and Python's `json.dumps` with `ensure_ascii` write them).
//!
//! One Aho-Corasick automaton finds them all in one pass over a line, whatever their number;
//! a line without any costs one scan and no copy.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;

/// What a masked value becomes.
pub const MASK: &str = "***";
/// A form inside a longer base64 text shorter than this is not looked for: it would match
/// unrelated text too often.
const SHIFTED_BASE64_MIN: usize = 6;

/// The forms of a run's secrets, ready to be found.
#[derive(Default)]
pub struct Masker {
    finder: Option<AhoCorasick>,
    /// The longest form, in bytes: a line cut at a length limit keeps this much back.
    longest: usize,
    /// The secrets it was made from, so a later set can be added to them.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker").field("secrets", &self.secrets.len()).finish_non_exhaustive()
    }
}

impl Masker {
    /// A masker for these secret values (values shorter than `SECRET_MIN` are refused when set,
    /// so any here are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Masker {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= app::model::env::SECRET_MIN).map(str::to_string).collect();
        secrets.sort();
        secrets.dedup();
        let mut forms: Vec<Vec<u8>> = secrets.iter().flat_map(|s| forms(s)).collect();
        forms.sort();
        forms.dedup();
        let longest = forms.iter().map(Vec::len).max().unwrap_or(0);
        // Leftmost-longest: the value itself wins over a shorter form found at the same place.
        let finder =
            (!forms.is_empty()).then(|| AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&forms)).and_then(Result::ok);
        Masker { finder, longest, secrets }
    }

    /// This masker's secrets and `more`.
    pub fn with<'a>(&'a self, more: impl IntoIterator<Item = &'a str>) -> Masker {
        Masker::new(self.secrets.iter().map(String::as_str).chain(more))
    }

    pub fn is_empty(&self) -> bool {
        self.finder.is_none()
    }

    /// The longest text it replaces, in bytes (0 when it has none).
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// Replaces every form found in `text`; how many it replaced.
    pub fn mask_bytes(&self, text: &mut Vec<u8>) -> usize {
        let Some(finder) = &self.finder else { return 0 };
        let mut found = finder.find_iter(text.as_slice()).peekable();
        if found.peek().is_none() {
            return 0;
        }
        let mut out = Vec::with_capacity(text.len());
        let (mut count, mut from) = (0, 0);
        for hit in found {
            out.extend_from_slice(&text[from..hit.start()]);
            out.extend_from_slice(MASK.as_bytes());
            from = hit.end();
            count += 1;
        }
        out.extend_from_slice(&text[from..]);
        *text = out;
        count
    }

    /// As `mask_bytes`, for text.
    pub fn mask(&self, text: &mut String) -> usize {
        let Some(finder) = &self.finder else { return 0 };
        if finder.find(text.as_str()).is_none() {
            return 0;
        }
        let (mut count, mut out) = (0, String::with_capacity(text.len()));
        finder.replace_all_with(text.as_str(), &mut out, |_, _, out| {
            count += 1;
            out.push_str(MASK);
            true
        });
        *text = out;
        count
    }
}

/// Every form of `secret` to look for.
fn forms(secret: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = secret.as_bytes();
    let mut forms = vec![bytes.to_vec()];
    for engine in [&STANDARD, &URL_SAFE] {
        forms.push(engine.encode(bytes).into_bytes());
    }
    // Inside a longer base64 text the value starts at any of three offsets; the characters
    // wholly made of its own bits are the same whatever surrounds it.
    for shift in 0..3usize {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(bytes);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&shifted);
            let (start, end) = ((shift * 8).div_ceil(6), ((shift + bytes.len()) * 8) / 6);
            if end > start && end - start >= SHIFTED_BASE64_MIN {
                forms.push(encoded.as_bytes()[start..end].to_vec());
            }
        }
    }
    forms.extend(url_forms(bytes));
    // JSON: serde's escapes (quotes, backslashes, control characters) and Python's default
    // `ensure_ascii`, which also writes every non-ASCII character as \uXXXX.
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json.as_bytes()[1..json.len() - 1].to_vec());
    }
    forms.push(ascii_json(secret).into_bytes());
    forms.retain(|form| form.len() >= app::model::env::SECRET_MIN);
    forms
}

/// The value percent-encoded as Python's `quote` (keeps `/`), `quote(safe="")` and
/// `quote_plus` (space as `+`) write it, upper-case hex.
fn url_forms(bytes: &[u8]) -> Vec<Vec<u8>> {
    let encode = |keep_slash: bool, plus: bool| {
        let mut out = Vec::with_capacity(bytes.len() * 3);
        for &b in bytes {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b),
                b'/' if keep_slash => out.push(b),
                b' ' if plus => out.push(b'+'),
                _ => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            }
        }
        out
    };
    vec![encode(true, false), encode(false, false), encode(false, true)]
}

/// `json.dumps(value)` without its quotes, as Python writes it by default.
fn ascii_json(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn masked(masker: &Masker, text: &str) -> (String, usize) {
        let mut text = text.to_string();
        let count = masker.mask(&mut text);
        (text, count)
    }

    #[test]
    fn every_form_of_a_secret_is_masked() {
        let secret = "p@ss wörd/\"x\"+1";
        let masker = Masker::new([secret]);
        let json = serde_json::to_string(secret).unwrap();
        let samples = [
            format!("plain {secret} end"),
            format!("b64 {} end", STANDARD.encode(secret)),
            format!("b64url {} end", URL_SAFE_NO_PAD.encode(secret)),
            format!("basic {} end", STANDARD.encode(format!("user:{secret}"))),
            format!("quoted {} end", String::from_utf8(url_forms(secret.as_bytes())[1].clone()).unwrap()),
            format!("plus {} end", String::from_utf8(url_forms(secret.as_bytes())[2].clone()).unwrap()),
            format!("json {json} end"),
            format!("ascii json \"{}\" end", ascii_json(secret)),
        ];
        for sample in samples {
            let (out, count) = masked(&masker, &sample);
            assert!(count >= 1 && out.contains(MASK), "not masked: {sample} -> {out}");
            assert!(!out.contains(secret) && !out.contains(&STANDARD.encode(secret)), "{out}");
        }
    }

    #[test]
    fn lines_without_a_secret_are_left_alone_and_counts_add_up() {
        let masker = Masker::new(["tok3n-value", "ab"]);
        assert_eq!(masked(&masker, "nothing here, ab"), ("nothing here, ab".into(), 0));
        assert_eq!(masked(&masker, "tok3n-value and tok3n-value"), ("*** and ***".into(), 2));
        assert!(Masker::new(["abc"]).is_empty(), "a secret under 4 characters is no mask");
        assert!(Masker::default().is_empty());
        let mut bytes = b"x tok3n-value y".to_vec();
        assert_eq!(masker.mask_bytes(&mut bytes), 1);
        assert_eq!(bytes, b"x *** y");
        let more = masker.with(["second-one"]);
        assert_eq!(masked(&more, "tok3n-value second-one").1, 2);
    }
}
