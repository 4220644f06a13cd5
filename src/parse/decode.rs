//! Character sets: turn what the server sent into UTF-8 before parsing.
//!
//! Order of evidence: a byte-order mark; then, for bytes that are valid
//! UTF-8, UTF-8 (a single-byte text that happens to be valid UTF-8 is
//! vanishingly rare, while a UTF-8 document still declaring its old
//! charset is common); then the HTTP `charset` and the XML declaration;
//! when they are missing, claim UTF-8 or disagree, chardetng decides.
//! The XML declaration of the result says UTF-8, so feed-rs does not
//! decode a second time.

use std::borrow::Cow;

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

/// Decodes `body` to UTF-8 using the HTTP `charset`, if the server sent one.
pub fn to_utf8<'a>(body: &'a [u8], http_charset: Option<&str>) -> Decoded<'a> {
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
    let from_http = http_charset.and_then(|l| Encoding::for_label(l.as_bytes()));
    let from_xml = xml_declared(body).and_then(Encoding::for_label);
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
    let claimed = from_http.or(from_xml).map(|e| e.name()).unwrap_or("nothing");
    let note = (!declared.contains(&encoding))
        .then(|| format!("declared {claimed} but is {}; transcoded", encoding.name()));
    Decoded {
        bytes: Cow::Owned(with_utf8_declaration(text.into_owned()).into_bytes()),
        note,
    }
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
    fn reads_charset_parameters() {
        assert_eq!(
            http_charset("text/xml; charset=\"windows-1256\""),
            Some("windows-1256")
        );
        assert_eq!(http_charset("application/rss+xml;Charset=UTF-8"), Some("UTF-8"));
        assert_eq!(http_charset("text/xml"), None);
    }
}
