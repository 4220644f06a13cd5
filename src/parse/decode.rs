//! Character sets: turn what the server sent into UTF-8 before parsing.
//!
//! Order of evidence: a byte-order mark; then, for bytes that are valid
//! UTF-8, UTF-8 (a single-byte text that happens to be valid UTF-8 is
//! vanishingly rare, while a UTF-8 document still declaring its old
//! charset is common); then the HTTP `charset` and the XML declaration;
//! when they are missing, claim UTF-8 or disagree, chardetng decides.
//! The XML declaration of the result says UTF-8, so feed-rs does not
//! decode a second time.
//!
//! Labels are read as the WHATWG Encoding Standard reads them (encoding_rs),
//! after a few spellings it does not know (`windows_1251`, `mac-cyrillic`,
//! `macroman`), plus the DOS code pages (`437`, `ibm850`, `cp_is`, through
//! `oem_cp`'s tables) and the other single-byte charsets Python reads
//! (`charsets.rs`: EBCDIC by its `<?xm`, `maccentraleurope`,
//! `koi8-t`, ...); UTF-32 by its byte-order mark or `<` as four bytes.
//! A label that names nothing readable (`viscii`, say) is reported as such.

use std::borrow::Cow;

use super::charsets;
use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// The document as UTF-8, and a note when it had to be transcoded from
/// something other than what it declared.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub note: Option<String>,
}

/// The `charset` parameter of a `Content-Type` value.
pub fn http_charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
    })
}

/// The `encoding` of an XML declaration at the start of `body`.
fn xml_declared(body: &[u8]) -> Option<&[u8]> {
    let decl = xml_decl(body)?;
    let at = find(decl, b"encoding")?;
    let rest = &decl[at + b"encoding".len()..];
    let rest = rest.trim_ascii_start().strip_prefix(b"=")?.trim_ascii_start();
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &rest[1..];
    let end = value.iter().position(|&b| b == quote)?;
    Some(&value[..end])
}

/// The XML declaration (`<?xml … ?>`) at the start of `body`, if any.
fn xml_decl(body: &[u8]) -> Option<&[u8]> {
    let body = body.trim_ascii_start();
    if !body.starts_with(b"<?xml") {
        return None;
    }
    let end = find(body, b"?>")?;
    Some(&body[..end + 2])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The encoding a charset label names: encoding_rs's labels, then
/// spellings it does not know.
fn encoding_for(label: &[u8]) -> Option<&'static Encoding> {
    if let Some(encoding) = Encoding::for_label(label) {
        return Some(encoding);
    }
    let label = String::from_utf8_lossy(label)
        .trim()
        .to_ascii_lowercase()
        .replace('_', "-");
    let alias = match label.as_str() {
        "mac-cyrillic" | "maccyrillic" => "x-mac-cyrillic",
        "mac" | "macroman" | "mac-roman" => "macintosh",
        "ms-ansi" => "windows-1252",
        "ms-ee" => "windows-1250",
        "ms-cyrl" => "windows-1251",
        "ms-greek" => "windows-1253",
        "ms-turk" => "windows-1254",
        "ms-hebr" => "windows-1255",
        "ms-arab" => "windows-1256",
        "winbaltrim" => "windows-1257",
        other => other,
    };
    Encoding::for_label(alias.as_bytes())
}

/// The single-byte table a charset label encoding_rs does not know names:
/// a DOS code page (`437`, `cp_is`, `ibm866`, `cspc8codepage437`, through
/// oem_cp) or one of [`charsets`] (EBCDIC, `maccentraleurope`, `koi8-t`).
fn legacy_table(label: &[u8]) -> Option<Table> {
    let label = python_label(label);
    let codec = charsets::codec(&label).unwrap_or(&label);
    dos_code_page(codec).or_else(|| charsets::table(codec).map(Table::Single))
}

/// A label as Python's codec registry reads it: lower case, each run of
/// characters other than letters, digits and `.` as one `_`.
fn python_label(label: &[u8]) -> String {
    let mut out = String::with_capacity(label.len());
    for c in String::from_utf8_lossy(label).trim().chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    if out.ends_with('_') {
        out.pop();
    }
    out
}

/// The DOS code page a (Python-normalised) label names (`437`, `cp850`,
/// `ibm866`, `csibm863`), as its decoding table.
fn dos_code_page(label: &str) -> Option<Table> {
    use oem_cp::code_table::*;
    let number = ["csibm", "ibm", "cp", ""].iter().find_map(|prefix| {
        label
            .strip_prefix(prefix)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })?;
    Some(match number {
        "437" => Table::Full(&DECODING_TABLE_CP437),
        "720" => Table::Full(&DECODING_TABLE_CP720),
        "737" => Table::Full(&DECODING_TABLE_CP737),
        "775" => Table::Full(&DECODING_TABLE_CP775),
        "850" => Table::Full(&DECODING_TABLE_CP850),
        "852" => Table::Full(&DECODING_TABLE_CP852),
        "855" => Table::Full(&DECODING_TABLE_CP855),
        "857" => Table::Partial(&DECODING_TABLE_CP857),
        "858" => Table::Full(&DECODING_TABLE_CP858),
        "860" => Table::Full(&DECODING_TABLE_CP860),
        "861" => Table::Full(&DECODING_TABLE_CP861),
        "862" => Table::Full(&DECODING_TABLE_CP862),
        "863" => Table::Full(&DECODING_TABLE_CP863),
        "864" => Table::Partial(&DECODING_TABLE_CP864),
        "865" => Table::Full(&DECODING_TABLE_CP865),
        "869" => Table::Full(&DECODING_TABLE_CP869),
        _ => return None,
    })
}

/// A single-byte charset's decoding table.
#[derive(Clone, Copy)]
enum Table {
    /// The upper half of a DOS code page (the lower half is ASCII).
    Full(&'static [char; 128]),
    /// The same, with bytes that mean nothing.
    Partial(&'static [Option<char>; 128]),
    /// All 256 bytes (EBCDIC's lower half is not ASCII); U+FFFD for none.
    Single(&'static [u16; 256]),
}

impl Table {
    fn decode(self, body: &[u8]) -> String {
        body.iter()
            .map(|&b| match (b, self) {
                (_, Table::Single(t)) => char::from_u32(u32::from(t[usize::from(b)])).unwrap_or('\u{FFFD}'),
                (0..=0x7F, _) => b as char,
                (_, Table::Full(t)) => t[usize::from(b - 0x80)],
                (_, Table::Partial(t)) => t[usize::from(b - 0x80)].unwrap_or('\u{FFFD}'),
            })
            .collect()
    }
}

/// An EBCDIC document (`<?xm` in EBCDIC), in the code page its declaration
/// names (read through cp037: the letters, digits and punctuation of a
/// declaration are the same in every EBCDIC page), else cp037.
fn ebcdic(body: &[u8]) -> Option<String> {
    if !body.starts_with(&[0x4C, 0x6F, 0xA7, 0x94]) {
        return None;
    }
    let cp037 = Table::Single(charsets::table("cp037")?);
    let head = cp037.decode(&body[..body.len().min(512)]);
    let table = xml_declared(head.as_bytes())
        .map(python_label)
        .and_then(|label| charsets::codec(&label).filter(|c| charsets::is_ebcdic(c)))
        .and_then(charsets::table)
        .map_or(cp037, Table::Single);
    Some(table.decode(body))
}

/// UTF-32 by its byte-order mark, or `<` as four bytes.
fn utf32(body: &[u8]) -> Option<String> {
    let (big_endian, from) = match body {
        [0, 0, 0xFE, 0xFF, ..] => (true, 4),
        [0xFF, 0xFE, 0, 0, ..] => (false, 4),
        [0, 0, 0, b'<', ..] => (true, 0),
        [b'<', 0, 0, 0, ..] => (false, 0),
        _ => return None,
    };
    Some(
        body[from..]
            .chunks_exact(4)
            .map(|c| {
                let bytes = [c[0], c[1], c[2], c[3]];
                let n = if big_endian {
                    u32::from_be_bytes(bytes)
                } else {
                    u32::from_le_bytes(bytes)
                };
                char::from_u32(n).unwrap_or('\u{FFFD}')
            })
            .collect(),
    )
}

/// Decodes `body` to UTF-8 using the HTTP `charset`, if the server sent one.
pub fn to_utf8<'a>(body: &'a [u8], http_charset: Option<&str>) -> Decoded<'a> {
    if let Some(text) = utf32(body) {
        return Decoded {
            bytes: Cow::Owned(with_utf8_declaration(text).into_bytes()),
            note: None,
        };
    }
    if let Some(text) = ebcdic(body) {
        return Decoded {
            bytes: Cow::Owned(with_utf8_declaration(text).into_bytes()),
            note: None,
        };
    }
    if let Some((encoding, bom)) = Encoding::for_bom(body) {
        let (text, _) = encoding.decode_without_bom_handling(&body[bom..]);
        return Decoded {
            bytes: Cow::Owned(with_utf8_declaration(text.into_owned()).into_bytes()),
            note: None,
        };
    }
    // UTF-16 without a BOM: "<?" as two 16-bit units.
    let utf16 = if body.starts_with(b"<\0?\0") {
        Some(UTF_16LE)
    } else if body.starts_with(b"\0<\0?") {
        Some(UTF_16BE)
    } else {
        None
    };
    if let Some(encoding) = utf16 {
        let (text, _) = encoding.decode_without_bom_handling(body);
        return Decoded {
            bytes: Cow::Owned(with_utf8_declaration(text.into_owned()).into_bytes()),
            note: None,
        };
    }
    let from_http = http_charset.and_then(|l| encoding_for(l.as_bytes()));
    let from_xml = xml_declared(body).and_then(encoding_for);
    if std::str::from_utf8(body).is_ok() {
        let declares_other = from_xml.is_some_and(|e| e != UTF_8);
        return Decoded {
            bytes: if declares_other {
                let text = String::from_utf8(body.to_vec()).expect("checked above");
                Cow::Owned(with_utf8_declaration(text).into_bytes())
            } else {
                Cow::Borrowed(body)
            },
            note: None,
        };
    }
    // Not UTF-8: a single-byte charset encoding_rs does not know declared
    // (and no web charset by HTTP).
    let legacy = xml_declared(body)
        .into_iter()
        .chain(http_charset.map(str::as_bytes))
        .find_map(legacy_table);
    if let (Some(table), None, None) = (legacy, from_http, from_xml) {
        return Decoded {
            bytes: Cow::Owned(with_utf8_declaration(table.decode(body)).into_bytes()),
            note: None,
        };
    }
    // Not UTF-8: believe a declaration that names another charset, ask
    // the detector when there is none or two that disagree.
    let declared: Vec<&'static Encoding> = [from_http, from_xml]
        .into_iter()
        .flatten()
        .filter(|e| *e != UTF_8 && *e != UTF_16LE && *e != UTF_16BE)
        .collect();
    let guess = || {
        let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
        detector.feed(body, true);
        detector.guess(None, Utf8Detection::Deny)
    };
    let encoding = match declared.as_slice() {
        [one] => *one,
        [a, b] if a == b => *a,
        [a, b] => {
            let guessed = guess();
            if guessed == *b {
                *b
            } else if guessed == *a {
                *a
            } else {
                *b // the document's own declaration
            }
        }
        _ => guess(),
    };
    let (text, _, _) = encoding.decode(body);
    let claimed = match (
        from_http.or(from_xml),
        http_charset.map(str::as_bytes).or(xml_declared(body)),
    ) {
        (Some(known), _) => known.name().to_string(),
        (None, Some(label)) => format!(
            "{:?}, a charset feedwatch cannot read,",
            String::from_utf8_lossy(label)
        ),
        (None, None) => "nothing".to_string(),
    };
    let note = (!declared.contains(&encoding))
        .then(|| format!("declared {claimed} but is {}; transcoded", encoding.name()));
    Decoded {
        bytes: Cow::Owned(with_utf8_declaration(text.into_owned()).into_bytes()),
        note,
    }
}

/// An HTML page as text, as a browser reads it (the WHATWG encoding
/// sniffing, simplified): a byte-order mark; else the HTTP `charset`;
/// else a `<meta charset>` or `<meta http-equiv="Content-Type">` in the
/// first 1,024 bytes; else UTF-8 when the bytes are valid UTF-8; else what
/// chardetng guesses (a Persian or Arabic page in windows-1256 that
/// declares nothing). Undecodable bytes become U+FFFD.
pub fn html_to_utf8(body: &[u8], content_type: Option<&str>) -> String {
    if let Some((encoding, bom)) = Encoding::for_bom(body) {
        return encoding.decode_without_bom_handling(&body[bom..]).0.into_owned();
    }
    let declared = content_type
        .and_then(http_charset)
        .and_then(|label| encoding_for(label.as_bytes()))
        .or_else(|| meta_charset(&body[..body.len().min(1024)]))
        // A page cannot really be UTF-16 when its bytes declare it in
        // ASCII: browsers read UTF-8 then.
        .map(|e| if e == UTF_16LE || e == UTF_16BE { UTF_8 } else { e });
    let encoding = match declared {
        Some(encoding) => encoding,
        None if std::str::from_utf8(body).is_ok() => UTF_8,
        None => {
            let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
            detector.feed(body, true);
            detector.guess(None, Utf8Detection::Allow)
        }
    };
    encoding.decode_without_bom_handling(body).0.into_owned()
}

/// The charset a `<meta>` tag in `head` declares: `charset=` in a `meta`
/// element's attributes (`<meta charset="...">`, or in the `content` of
/// `<meta http-equiv="Content-Type">`).
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = find(&lower[from..], b"<meta") {
        let start = from + at + 5;
        let end = lower[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(c) = find(tag, b"charset") {
            let rest = &tag[c + 7..];
            let rest = rest.trim_ascii_start();
            if let Some(rest) = rest.strip_prefix(b"=") {
                let rest = rest.trim_ascii_start();
                let rest = rest
                    .strip_prefix(b"\"")
                    .or(rest.strip_prefix(b"'"))
                    .unwrap_or(rest);
                let len = rest
                    .iter()
                    .position(|&b| matches!(b, b'"' | b'\'' | b';' | b' ' | b'/' | b'>'))
                    .unwrap_or(rest.len());
                if let Some(encoding) = encoding_for(&rest[..len]) {
                    return Some(encoding);
                }
            }
        }
        from = end;
    }
    None
}

/// Makes the XML declaration (if any) say `encoding="UTF-8"`.
fn with_utf8_declaration(text: String) -> String {
    let Some(decl) = xml_decl(text.as_bytes()) else {
        return text;
    };
    let decl_len = decl.len();
    let lead = text.len() - text.trim_start().len();
    let decl = &text[lead..lead + decl_len];
    let Some(at) = decl.find("encoding") else {
        return text;
    };
    let rest = &decl[at..];
    let Some(open) = rest.find(['"', '\'']) else {
        return text;
    };
    let quote = rest.as_bytes()[open];
    let Some(close) = rest[open + 1..].find(quote as char) else {
        return text;
    };
    let start = lead + at;
    let end = lead + at + open + 1 + close + 1;
    format!("{}encoding=\"UTF-8\"{}", &text[..start], &text[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_decode_by_bom_header_meta_then_guess() {
        // Arabic (Persian's ی is not in windows-1256).
        let arabic = "استفتاء استقلال إقليم كردستان العراق وردود فعل إيران وتركيا والحكومة في بغداد. ";
        let (cp1256, _, _) = encoding_rs::WINDOWS_1256.encode(arabic);
        let page = |head: &str, body: &[u8]| {
            let mut page = format!("<html><head>{head}</head><body><p>").into_bytes();
            page.extend_from_slice(body);
            page.extend_from_slice(b"</p></body></html>");
            page
        };
        // Nothing declared: the guess reads windows-1256.
        let bare = page("", &cp1256.repeat(4));
        assert!(
            html_to_utf8(&bare, Some("text/html")).contains(arabic),
            "{}",
            html_to_utf8(&bare, None)
        );
        // Declared in a meta tag, either form, any case and quoting.
        for head in [
            "<meta charset=windows-1256>",
            "<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset='windows-1256'\">",
        ] {
            assert!(
                html_to_utf8(&page(head, &cp1256), None).contains(arabic),
                "{head}"
            );
        }
        // The HTTP header wins over the meta tag.
        let latin = page("<meta charset=\"utf-8\">", b"caf\xe9");
        assert!(html_to_utf8(&latin, Some("text/html; charset=iso-8859-1")).contains("café"));
        // A BOM wins over everything; plain UTF-8 needs nothing.
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend(page("<meta charset=windows-1256>", arabic.as_bytes()));
        assert!(html_to_utf8(&bom, Some("text/html; charset=windows-1256")).contains(arabic));
        assert!(html_to_utf8(&page("", arabic.as_bytes()), None).contains(arabic));
    }

    fn utf8(body: &[u8], charset: Option<&str>) -> String {
        String::from_utf8(to_utf8(body, charset).bytes.into_owned()).unwrap()
    }

    fn doc(decl: &str, title: &str, encoding: &'static Encoding) -> Vec<u8> {
        let text = format!("<?xml version=\"1.0\"{decl}?><rss version=\"2.0\"><channel><title>{title}</title></channel></rss>");
        encoding.encode(&text).0.into_owned()
    }

    // Arabic yeh (ي), as Persian text in windows-1256 is written.
    const PERSIAN: &str =
        "همه‌پرسي استقلال اقليم کردستان عراق و واکنش ايران و ترکيه به برگزاري آن در روز دوشنبه";
    const RUSSIAN: &str =
        "Референдум о независимости Иракского Курдистана и реакция Ирана и Турции на его проведение";
    const TURKISH: &str = "Irak'ın kuzeyindeki bağımsızlık referandumuna Türkiye ve İran'ın tepkisi: Genelkurmay Başkanı açıklama yaptı";
    const FRENCH: &str =
        "Référendum d'indépendance du Kurdistan irakien : réaction de l'Iran et de la Turquie, à l'été";

    #[test]
    fn decodes_legacy_charsets_declared_or_not() {
        let cases = [
            ("windows-1256", PERSIAN),
            ("windows-1251", RUSSIAN),
            ("iso-8859-9", TURKISH),
            ("iso-8859-1", FRENCH),
        ];
        for (label, text) in cases {
            let encoding = Encoding::for_label(label.as_bytes()).unwrap();
            // Declared in the XML declaration.
            let declared = utf8(&doc(&format!(" encoding=\"{label}\""), text, encoding), None);
            assert!(declared.contains(text), "{label} via XML: {declared}");
            assert!(declared.contains("encoding=\"UTF-8\""), "{declared}");
            // Declared by HTTP only.
            let http = utf8(&doc("", text, encoding), Some(label));
            assert!(http.contains(text), "{label} via HTTP: {http}");
            // Declared UTF-8 by both, but it is not: detected.
            let lying_doc = doc(" encoding=\"UTF-8\"", text, encoding);
            let lying = to_utf8(&lying_doc, Some("utf-8"));
            let out = String::from_utf8(lying.bytes.into_owned()).unwrap();
            assert!(out.contains(text), "{label} detected: {out}");
            assert!(lying.note.unwrap().contains("transcoded"));
        }
    }

    #[test]
    fn boms_utf16_and_stale_declarations() {
        let text = format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss><channel><title>{PERSIAN}</title></channel></rss>");
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let out = utf8(&le, None);
        assert!(
            out.contains(PERSIAN) && out.contains("encoding=\"UTF-8\""),
            "{out}"
        );
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(utf8(&be, None).contains(PERSIAN));
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend(text.as_bytes());
        assert!(utf8(&bom8, None).starts_with("<?xml"));
        // UTF-8 bytes under a stale windows-1256 declaration stay as they are.
        let stale = doc(" encoding=\"windows-1256\"", PERSIAN, UTF_8);
        let out = utf8(&stale, Some("windows-1256"));
        assert!(
            out.contains(PERSIAN) && out.contains("encoding=\"UTF-8\""),
            "{out}"
        );
    }

    #[test]
    fn labels_encoding_rs_does_not_know() {
        // Issue 18: ignored and guessed, and the warning said nothing was declared.
        let latin = |label: &str, bytes: &[u8]| {
            let mut doc =
                format!("<?xml version=\"1.0\" encoding=\"{label}\"?><rss><channel><title>").into_bytes();
            doc.extend_from_slice(bytes);
            doc.extend_from_slice(b"</title></channel></rss>");
            let out = to_utf8(&doc, None);
            (String::from_utf8(out.bytes.into_owned()).unwrap(), out.note)
        };
        for (label, bytes, text) in [
            ("437", &b"\x80a"[..], "Ça"),
            ("ibm850", b"\x80a", "Ça"),
            ("cp866", b"\x8f\xe0\xa8\xa2\xa5\xe2", "Привет"),
            ("mac-cyrillic", b"\x8f\xf0\xe8\xe2\xe5\xf2", "Привет"),
            ("windows_1251", b"\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"),
            ("ms-turk", b"Ba\xfe", "Baş"),
            // Python's own names and code pages (feedparser reads them).
            ("cp_is", b"\x80", "Ç"),
            ("MacCentralEurope", b"\x80", "Ä"),
            ("mac_turkish", b"\xda", "Ğ"),
            ("koi8-t", b"\x80", "қ"),
            ("ruscii", b"\x80", "А"),
        ] {
            let (out_text, note) = latin(label, bytes);
            assert!(out_text.contains(text), "{label}: {out_text}");
            assert_eq!(note, None, "{label}");
        }
        let unknown = latin("viscii", b"\xc8\x85\x93\x93\x96\xe9");
        let note = unknown.1.unwrap();
        assert!(
            note.starts_with("declared \"viscii\", a charset feedwatch cannot read, but is"),
            "{note}"
        );
    }

    #[test]
    fn ebcdic() {
        // The declaration itself is EBCDIC; cp500 and cp037 differ on `!`.
        for (label, bang) in [("ebcdic-cp-be", 0x4F), ("IBM037", 0x5A), ("", 0x5A)] {
            let decl = if label.is_empty() {
                "<?xml version=\"1.0\"?>".to_string()
            } else {
                format!("<?xml version=\"1.0\" encoding=\"{label}\"?>")
            };
            let text = format!("{decl}<rss><channel><title>Ærø</title></channel></rss>");
            let table = charsets::table(if bang == 0x4F { "cp500" } else { "cp037" }).unwrap();
            let mut doc: Vec<u8> = text
                .chars()
                .map(|c| table.iter().position(|&u| u32::from(u) == c as u32).unwrap() as u8)
                .collect();
            doc.push(bang);
            let out = utf8(&doc, None);
            assert!(out.contains("<title>Ærø</title>"), "{label}: {out}");
            assert!(out.ends_with("</rss>!"), "{label}: {out}");
            assert!(out.contains("encoding=\"UTF-8\"") || label.is_empty(), "{out}");
        }
    }

    #[test]
    fn utf_32() {
        let text = "<?xml version=\"1.0\" encoding=\"utf-32\"?><rss><channel><title>Başbakan</title></channel></rss>";
        let be: Vec<u8> = text.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        let mut le_bom = vec![0xFF, 0xFE, 0, 0];
        le_bom.extend(text.chars().flat_map(|c| (c as u32).to_le_bytes()));
        for doc in [be, le_bom] {
            let out = utf8(&doc, None);
            assert!(
                out.contains("Başbakan") && out.contains("encoding=\"UTF-8\""),
                "{out}"
            );
        }
    }

    #[test]
    fn reads_charset_parameters() {
        assert_eq!(
            http_charset("text/xml; charset=\"windows-1256\""),
            Some("windows-1256")
        );
        assert_eq!(http_charset("application/rss+xml;Charset=UTF-8"), Some("UTF-8"));
        assert_eq!(http_charset("text/xml"), None);
    }
}
