//! HTML fragment → plain text, for matching and display.
//!
//! Tags are removed (the content of `script`, `style` and comments with
//! them), block-level boundaries become spaces, every HTML5 entity and
//! numeric reference is decoded, control characters are dropped and runs of
//! whitespace collapse to one space. Plain text passes through unchanged
//! except for entity decoding and whitespace collapsing: a `<` that does not
//! start a tag (`a < b`) stays. [`plain_text`] is for text that is not
//! markup at all (Atom `type="text"`): only whitespace and controls.
//!
//! Named references come from the WHATWG list ([`entity`], through
//! `htmlize`'s table; `tests/entities.rs` checks every name). The C1
//! controls U+0080–U+009F, which feeds produce with `&#146;` for
//! Windows-1252's `’`, are read as Windows-1252, as HTML5 says of numeric
//! references ([`windows_1252`]), instead of being dropped.

/// Converts an HTML fragment (or plain text) to one line of plain text.
pub fn to_text(input: &str) -> String {
    let mut out = Out::with_capacity(input.len());
    let bytes = input.as_bytes();
    let mut i = 0;
    let mut run_start = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                if let Some(tag) = scan_tag(input, i) {
                    out.text(&input[run_start..i]);
                    match tag {
                        Tag::Skip { end } => i = end,
                        Tag::Element { end, block } => {
                            if block {
                                out.space();
                            }
                            i = end;
                        }
                    }
                    run_start = i;
                } else {
                    i += 1;
                }
            }
            b'&' => {
                if let Some((decoded, len)) = decode_entity(&input[i..]) {
                    out.text(&input[run_start..i]);
                    out.text_owned(decoded);
                    i += len;
                    run_start = i;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out.text(&input[run_start..]);
    out.finish()
}

/// Plain text (no markup, no references) as one line: whitespace
/// collapsed, controls dropped, C1 controls read as Windows-1252.
pub fn plain_text(input: &str) -> String {
    let mut out = Out::with_capacity(input.len());
    out.text(input);
    out.finish()
}

/// The text of the HTML5 named character reference `name` (without `&`
/// and `;`), e.g. `scedil` → `ş`.
pub fn entity(name: &str) -> Option<&'static str> {
    let mut key = [0u8; 48];
    let len = name.len() + 2;
    if len > key.len() {
        return None;
    }
    key[0] = b'&';
    key[1..len - 1].copy_from_slice(name.as_bytes());
    key[len - 1] = b';';
    htmlize::ENTITIES
        .get(&key[..len])
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// What HTML5 makes of the C1 control `c` written as a numeric reference
/// (the Windows-1252 character at that byte); other characters as they are.
pub fn windows_1252(c: char) -> char {
    const C1: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
        '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}', '\u{017D}', '\u{8F}', '\u{90}',
        '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}',
        '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    match c as u32 {
        n @ 0x80..=0x9F => C1[(n - 0x80) as usize],
        _ => c,
    }
}

/// Accumulates text with whitespace collapsed and control characters dropped.
struct Out {
    buf: String,
    pending_space: bool,
}

impl Out {
    fn with_capacity(n: usize) -> Self {
        Self {
            buf: String::with_capacity(n),
            pending_space: false,
        }
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn text(&mut self, s: &str) {
        for c in s.chars() {
            let c = windows_1252(c);
            if c.is_whitespace() {
                self.pending_space = true;
            } else if c.is_control() {
                // dropped
            } else {
                if self.pending_space && !self.buf.is_empty() {
                    self.buf.push(' ');
                }
                self.pending_space = false;
                self.buf.push(c);
            }
        }
    }

    fn text_owned(&mut self, s: Decoded) {
        match s {
            Decoded::Str(s) => self.text(s),
            Decoded::Char(c) => self.text(c.encode_utf8(&mut [0; 4])),
        }
    }

    fn finish(self) -> String {
        self.buf
    }
}

enum Tag {
    /// A comment, doctype, CDATA or a raw-text element with its content.
    Skip {
        end: usize,
    },
    Element {
        end: usize,
        block: bool,
    },
}

/// Recognises a tag starting at `start` (which holds `<`); `None` when the
/// `<` is literal text.
fn scan_tag(input: &str, start: usize) -> Option<Tag> {
    let rest = &input[start..];
    if let Some(body) = rest.strip_prefix("<!--") {
        let end = body.find("-->").map_or(input.len(), |p| start + 4 + p + 3);
        return Some(Tag::Skip { end });
    }
    if rest.starts_with("<![CDATA[") {
        // Content of CDATA is text; keep it by skipping only the markers.
        return Some(Tag::Skip { end: start + 9 });
    }
    let bytes = rest.as_bytes();
    let (closing, name_start) = match bytes.get(1) {
        Some(b'/') => (true, 2),
        Some(b'!' | b'?') => {
            let end = rest.find('>').map(|p| start + p + 1)?;
            return Some(Tag::Skip { end });
        }
        _ => (false, 1),
    };
    if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let name_len = bytes[name_start..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b':'))
        .unwrap_or(bytes.len() - name_start);
    let name = rest[name_start..name_start + name_len].to_ascii_lowercase();
    let end = start + tag_end(&rest[name_start + name_len..])? + name_start + name_len;
    if !closing && matches!(name.as_str(), "script" | "style" | "template" | "noscript") {
        let close = format!("</{name}");
        let after = &input[end..];
        let skip_to = find_ascii_ci(after, &close)
            .and_then(|p| input[end + p..].find('>').map(|q| end + p + q + 1))
            .unwrap_or(input.len());
        // The element and its content go; like any block, it separates words.
        return Some(Tag::Element {
            end: skip_to,
            block: true,
        });
    }
    Some(Tag::Element {
        end,
        block: !is_inline(&name),
    })
}

/// Offset just past the `>` closing a tag, skipping quoted attribute values.
fn tag_end(attrs: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in attrs.bytes().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.windows(n.len()).position(|w| w.eq_ignore_ascii_case(n))
}

/// Elements that do not separate words: `Kurd<b>istan</b>` is one word.
fn is_inline(name: &str) -> bool {
    matches!(
        name,
        "a" | "abbr"
            | "b"
            | "bdi"
            | "bdo"
            | "cite"
            | "code"
            | "data"
            | "del"
            | "dfn"
            | "em"
            | "font"
            | "i"
            | "ins"
            | "kbd"
            | "mark"
            | "q"
            | "s"
            | "samp"
            | "small"
            | "span"
            | "strike"
            | "strong"
            | "sub"
            | "sup"
            | "time"
            | "tt"
            | "u"
            | "var"
            | "wbr"
    )
}

enum Decoded {
    Str(&'static str),
    Char(char),
}

/// Decodes an entity at the start of `s` (`&amp;`, `&nbsp;`, `&#8217;`,
/// `&#x2019;`); returns the text and the length consumed.
fn decode_entity(s: &str) -> Option<(Decoded, usize)> {
    let semi = s[1..].bytes().take(40).position(|b| b == b';')? + 1;
    let name = &s[1..semi];
    let decoded = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        let c = char::from_u32(code).filter(|c| *c != '\0').unwrap_or('\u{FFFD}');
        Decoded::Char(windows_1252(c))
    } else {
        Decoded::Str(entity(name)?)
    };
    Some((decoded, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::to_text;

    fn check(input: &str, expected: &str) {
        assert_eq!(to_text(input), expected, "to_text({input:?})");
    }

    #[test]
    fn strips_tags_and_separates_blocks() {
        check(
            "<p>Iran and Turkey</p><p>oppose the vote</p>",
            "Iran and Turkey oppose the vote",
        );
        check(
            "Kurd<b>istan</b> <a href=\"/x?a=1&b=2\">link</a>",
            "Kurdistan link",
        );
        check("line<br/>break<BR>again", "line break again");
        check("<div\n class='a>b'>quoted &gt; attr</div>", "quoted > attr");
        check("<ul><li>one</li><li>two</li></ul>", "one two");
    }

    #[test]
    fn drops_scripts_styles_and_comments() {
        check("a<script>alert('x')</script>b", "a b");
        check("a<SCRIPT type=x>if (a<b) {}</Script >b", "a b");
        check("a<style>p{}</style> b<!-- hidden -->c", "a bc");
        check("<!DOCTYPE html><?xml version=\"1.0\"?>text", "text");
        check("unterminated <!-- comment", "unterminated");
    }

    #[test]
    fn decodes_entities() {
        check("Tom&nbsp;&amp;&nbsp;Jerry", "Tom & Jerry");
        check("&lsquo;quoted&rsquo; &#8220;x&#x201D; &eacute;", "‘quoted’ “x” é");
        check("AT&T &unknown; & done", "AT&T &unknown; & done");
        check("&#0; &#xD800;", "\u{FFFD} \u{FFFD}");
        check("&lt;p&gt; stays text", "<p> stays text");
        // Issue 18: names quick-xml 0.41 got wrong, C1 references.
        check(
            "Ba&scedil;bakan Erdo&gbreve;an, &Idot;stanbul'da &inodot; &alpha;&Scaron;",
            "Başbakan Erdoğan, İstanbul'da ı αŠ",
        );
        check("Iran&#146;s &#x93;quote&#148; &#128;5", "Iran’s “quote” €5");
        check("raw C1: Iran\u{92}s", "raw C1: Iran’s");
        check("&NotNestedGreaterGreater; &fjlig;", "⪢̸ fj");
    }

    #[test]
    fn keeps_literal_angle_brackets_and_collapses_space() {
        check("a < b > c", "a < b > c");
        check("x <3 y", "x <3 y");
        check("  many \n\t spaces\u{0007} ", "many spaces");
        check("همه‌پرسی <b>استقلال</b>", "همه‌پرسی استقلال");
    }
}
