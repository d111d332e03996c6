//! A small YAML writer for the playbooks `render --format ansible` prints: block style only,
//! comments where a reviewer needs them, long text folded and multi-line text as literal
//! blocks so that lines stay under ansible-lint's 160 characters, and every string from a plan
//! either quoted plainly or, when it holds Jinja's delimiters, tagged `!unsafe` so that Ansible
//! never templates a plugin's or a site's value. The tests read what it writes back with a YAML
//! parser and compare it with what it was given.

use std::fmt::Write as _;

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Y {
    /// A string from a plan: written so that Ansible takes it literally.
    Text(String),
    /// A Jinja expression or plain word we wrote ourselves: templated by Ansible.
    Jinja(String),
    /// A number or `null`, written as it is.
    Raw(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A sequence.
    Seq(Vec<Y>),
    /// A mapping, in order; a key `#` holds a comment written before the next key.
    Map(Vec<(String, Y)>),
}

/// The longest line we let text run to before folding it.
const FOLD_AT: usize = 100;

impl Y {
    /// A string from a plan.
    pub fn text(s: impl Into<String>) -> Y {
        Y::Text(s.into())
    }

    /// An expression or word of ours.
    pub fn jinja(s: impl Into<String>) -> Y {
        Y::Jinja(s.into())
    }

    /// A sequence of plan strings.
    pub fn texts<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Y {
        Y::Seq(items.into_iter().map(|s| Y::Text(s.into())).collect())
    }
}

/// Builds a mapping from `(key, value)` pairs.
pub fn map<const N: usize>(pairs: [(&str, Y); N]) -> Y {
    Y::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The document: `---` and the node.
pub fn document(node: &Y) -> String {
    let mut out = String::from("---\n");
    write_node(&mut out, node, 0);
    out
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

/// Writes `node` as the value of a block starting at column `indent` (already positioned
/// for sequences and mappings, which start on their own lines).
fn write_node(out: &mut String, node: &Y, indent: usize) {
    match node {
        Y::Seq(items) => {
            for item in items {
                out.push_str(&pad(indent));
                match item {
                    // A sequence in a sequence starts on the next line (no trailing space).
                    Y::Seq(inner) if !inner.is_empty() => {
                        out.push_str("-\n");
                        write_node(out, item, indent + 2);
                    }
                    _ => {
                        out.push_str("- ");
                        write_inline_start(out, item, indent + 2);
                    }
                }
            }
        }
        Y::Map(pairs) => {
            let mut noqa = None;
            for (k, v) in pairs {
                if k == NOQA {
                    noqa = Some(v);
                    continue;
                }
                out.push_str(&pad(indent));
                write_pair(out, k, v, indent, noqa.take());
            }
        }
        scalar => {
            out.push_str(&pad(indent));
            out.push_str(&scalar_text(scalar, indent));
            out.push('\n');
        }
    }
}

/// Writes an item just after `- `: a mapping's first key goes on the dash's line.
fn write_inline_start(out: &mut String, item: &Y, indent: usize) {
    match item {
        Y::Map(pairs) if !pairs.is_empty() => {
            let mut noqa = None;
            let mut first = true;
            for (k, v) in pairs {
                if k == NOQA {
                    noqa = Some(v);
                    continue;
                }
                if !first {
                    out.push_str(&pad(indent));
                }
                first = false;
                write_pair(out, k, v, indent, noqa.take());
            }
        }
        Y::Map(_) => out.push_str("{}\n"),
        Y::Seq(_) => out.push_str("[]\n"),
        scalar => {
            out.push_str(&scalar_text(scalar, indent));
            out.push('\n');
        }
    }
}

/// A mapping key whose text value is written as `# noqa: <value>` after the next key:
/// ansible-lint's way of saying a rule does not apply to a task.
pub const NOQA: &str = "#noqa";

fn write_pair(out: &mut String, key: &str, value: &Y, indent: usize, noqa: Option<&Y>) {
    if key == "#" {
        let Y::Text(comment) = value else {
            unreachable!("comments are text")
        };
        let mut lines: Vec<String> = Vec::new();
        for line in comment.lines() {
            let line: String = line
                .chars()
                .map(|c| if plain_char(c) && c != '\t' { c } else { ' ' })
                .collect();
            // Long comments wrap at word boundaries.
            let mut current = String::new();
            for word in line.split(' ') {
                if !current.is_empty() && current.len() + 1 + word.len() > FOLD_AT {
                    lines.push(std::mem::take(&mut current));
                }
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(word);
            }
            lines.push(current);
        }
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.push_str(&pad(indent));
            }
            let _ = writeln!(out, "# {}", line.trim_end());
        }
        return;
    }
    out.push_str(key);
    out.push(':');
    if let Some(Y::Text(rule)) = noqa {
        // Only on a key whose value starts on the next line.
        let _ = write!(out, "  # noqa: {rule}");
    }
    match value {
        Y::Map(pairs) if !pairs.is_empty() => {
            out.push('\n');
            write_node(out, value, indent + 2);
        }
        Y::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_node(out, value, indent + 2);
        }
        Y::Map(_) => out.push_str(" {}\n"),
        Y::Seq(_) => out.push_str(" []\n"),
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, indent + 2));
            out.push('\n');
        }
    }
}

/// A scalar as YAML text; block scalars' lines are indented by `indent`.
fn scalar_text(node: &Y, indent: usize) -> String {
    match node {
        Y::Bool(b) => b.to_string(),
        Y::Int(i) => i.to_string(),
        Y::Raw(s) => s.clone(),
        Y::Jinja(s) => string_text(s, indent),
        Y::Text(s) => {
            let unsafe_tag = s.contains("{{") || s.contains("{%") || s.contains("{#");
            let body = string_text(s, indent);
            if unsafe_tag {
                format!("!unsafe {body}")
            } else {
                body
            }
        }
        Y::Seq(_) | Y::Map(_) => unreachable!("collections are not scalars"),
    }
}

/// Whether `c` may stand as itself in a block or a quoted scalar: YAML's printable
/// characters, less the ones YAML 1.1 parsers (PyYAML, libyaml: Ansible's) read as line
/// breaks (NEL, LS, PS) and the byte-order mark. Anything else is escaped in double quotes.
fn plain_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}')
        || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
        || c >= '\u{10000}'
}

fn string_text(s: &str, indent: usize) -> String {
    if !s.chars().all(plain_char) {
        return double_quoted(s, indent);
    }
    if s.contains('\n') {
        let body = s.trim_end_matches('\n');
        let trailing = s.len() - body.len();
        // What a literal block cannot hold as it is: trailing blanks (which linters refuse),
        // and a first non-empty line starting with a blank, which would set the block's
        // indentation.
        let first = body.split('\n').find(|l| !l.is_empty()).unwrap_or("");
        if body.is_empty()
            || first.starts_with([' ', '\t'])
            || body.split('\n').any(|l| l.ends_with([' ', '\t']))
        {
            return double_quoted(s, indent);
        }
        let chomp = match trailing {
            0 => "-",
            1 => "",
            _ => "+",
        };
        let mut out = format!("|{chomp}");
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad(indent));
                out.push_str(line);
            }
        }
        for _ in 1..trailing {
            out.push('\n');
        }
        return out;
    }
    let foldable =
        !s.starts_with(' ') && !s.ends_with(' ') && !s.contains("  ") && !s.contains('\t');
    if s.len() > FOLD_AT && foldable {
        // Folded: each line break between two words reads back as the one space it replaced
        // (no word starts with a blank, which would make its line "more indented").
        let mut out = String::from(">-");
        let mut line = String::new();
        for word in s.split(' ') {
            if !line.is_empty() && line.len() + 1 + word.len() > FOLD_AT {
                out.push('\n');
                out.push_str(&pad(indent));
                out.push_str(&line);
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push('\n');
        out.push_str(&pad(indent));
        out.push_str(&line);
        return out;
    }
    if plain_ok(s) {
        s.to_owned()
    } else {
        single_quoted(s)
    }
}

/// Whether `s` reads back as the same string written plain.
fn plain_ok(s: &str) -> bool {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_');
    let all_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._/-+ ,()".contains(c))
        && !s.ends_with(' ')
        && !s.contains("  ");
    let special = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
    );
    first_ok && all_ok && !special
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// YAML's escape for `c` inside double quotes, when it needs one.
fn escape_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\u{85}' => out.push_str("\\N"),
        '\u{2028}' => out.push_str("\\L"),
        '\u{2029}' => out.push_str("\\P"),
        c if (c as u32) < 0x100 && !plain_char(c) => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if !plain_char(c) => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

/// A double-quoted string on one line (a mapping key).
pub(super) fn double_quoted_line(s: &str) -> String {
    let mut out = String::from("\"");
    s.chars().for_each(|c| escape_char(c, &mut out));
    out.push('"');
    out
}

/// A double-quoted string, long ones continued over lines with escaped line breaks (which
/// read back as nothing); a chunk never starts with a blank, which would be dropped.
fn double_quoted(s: &str, indent: usize) -> String {
    let mut out = String::from("\"");
    let mut run = 0;
    for c in s.chars() {
        if run >= FOLD_AT && c != ' ' && c != '\t' {
            out.push_str("\\\n");
            out.push_str(&pad(indent));
            run = 0;
        }
        let before = out.len();
        escape_char(c, &mut out);
        run += out.len() - before;
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(node: &Y) -> serde_yaml_ng::Value {
        let text = document(node);
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
    }

    #[test]
    fn every_kind_of_string_reads_back_as_written() {
        let long = "word ".repeat(60).trim_end().to_owned();
        let strings = [
            "plain",
            "yes",
            "0644",
            "with: colon",
            "it's",
            "line one\nline two\n",
            "no final newline\nsecond",
            "two newlines\n\n",
            "  leading spaces\nx\n",
            "tab\there\n",
            "{{ lookup('pipe', 'id') }}",
            "{% raw %}",
            "#comment-like",
            "- dash",
            "",
            &long,
            "a\u{1b}[31m",
            "key = \"value\"\n[table]\n  indented = 1\n",
            &format!("\u{1b}{}", "word  ".repeat(40)),
            &format!("  lead\n{}trailing  \n", "x ".repeat(70)),
            &format!("{}\\{}\"", "a".repeat(99), " b".repeat(60)),
            "\ttab first\nline\n",
            "overlay\u{2028}    - name: injected\u{2028}x: |\nbr_netfilter\n",
            "nel\u{85}ls\u{2028}ps\u{2029}del\u{7f}c1\u{9b}bom\u{feff}nc\u{fffe}",
            "a\r\nb\n",
            "\n  indented after an empty line\n",
            "\n    x\ny\n",
            "tab\tinside a long line that must be folded because it is longer than one hundred characters wide",
        ];
        for s in strings {
            let node = map([("list", Y::Seq(vec![map([("value", Y::text(s))])]))]);
            let back = round_trip(&node);
            let value = &back["list"][0]["value"];
            let read = match value {
                serde_yaml_ng::Value::Tagged(t) => {
                    assert_eq!(t.tag, "unsafe", "{s:?}");
                    t.value.as_str().unwrap().to_owned()
                }
                v => v
                    .as_str()
                    .unwrap_or_else(|| panic!("{s:?} read as {v:?}"))
                    .to_owned(),
            };
            assert_eq!(read, s, "\n{}", document(&node));
            let text = document(&node);
            assert!(text.lines().all(|l| l.len() <= 160), "{text}");
            assert!(text.lines().all(|l| !l.ends_with(' ')), "{text}");
            // What YAML 1.1 parsers (Ansible's) read as a line break never appears raw.
            assert!(
                !text.contains(['\u{85}', '\u{2028}', '\u{2029}', '\r']),
                "{text:?}"
            );
            let tagged = matches!(value, serde_yaml_ng::Value::Tagged(_));
            assert_eq!(tagged, s.contains("{{") || s.contains("{%"), "{s:?}");
        }
    }

    #[test]
    fn lines_stay_short_and_comments_stay_comments() {
        let long = "word ".repeat(80).trim_end().to_owned();
        let node = map([
            (
                "#",
                Y::text("a comment\nover two lines\u{7}\u{2028}evil: injected"),
            ),
            ("name", Y::text(&long)),
            (
                "nested",
                map([
                    ("#", Y::text("inner")),
                    ("n", Y::Int(3)),
                    ("b", Y::Bool(true)),
                ]),
            ),
        ]);
        let text = document(&node);
        assert!(text.lines().all(|l| l.len() <= 160), "{text}");
        assert!(text.contains("# a comment\n# over two lines"), "{text}");
        assert!(round_trip(&node).get("evil").is_none(), "{text}");
        let back = round_trip(&node);
        assert_eq!(back["name"].as_str(), Some(long.as_str()));
        assert_eq!(back["nested"]["n"].as_i64(), Some(3));
        assert_eq!(back["nested"]["b"].as_bool(), Some(true));
    }
}
