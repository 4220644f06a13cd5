//! Text folding and word splitting, shared by topic matching and search.
//!
//! One function folds article text and query terms alike, so a query word
//! matches exactly the words it was written to match. This module does no IO.
//!
//! # API
//!
//! - [`words`]: the folded words of a text, in order. Topic matching and the
//!   query parser use it; a query term that folds to several words
//!   (`U.S.`, `Kurdistan's`) is matched as a phrase.
//! - [`word_spans`]: the same words, each with the byte range of the text in
//!   the *original* input it came from (for snippets and highlighting).
//! - [`fold`]: the character folding alone, without splitting: a word
//!   character is folded as in [`words`], a character that separates words
//!   is kept as it is. `words(&fold(s)) == words(s)` when the letters of `s`
//!   are Latin, Greek, Cyrillic, Armenian, Hebrew or Arabic script (in other
//!   scripts, dropping a tatweel or a mark can change how UAX #29 segments the
//!   folded text: `カـカ` is two words, `カカ` one).
//!
//! # Folding rules
//!
//! These rules are the reference for what a query term matches. They are
//! applied in this order.
//!
//! 1. **Chunks.** The input is cut into chunks at every character that is not
//!    a *word character*. Word characters are letters and digits
//!    (`char::is_alphanumeric`), combining marks (General_Category M), and the
//!    invisible characters of rule 6; but not U+02BC (rule 8). Everything else
//!    (spaces, punctuation, symbols, emoji, the joiners and apostrophes of
//!    rules 7 and 8) separates words and never becomes part of one. A symbol
//!    is therefore dropped before normalisation: `Apple™` is `apple`, not
//!    `appletm`, and `10㎞` is `10`.
//! 2. **NFKC.** Each chunk is normalised to Unicode NFKC: presentation forms
//!    (`ﻛﺮﺩ`), full-width letters (`ＫＲＧ`), ligatures (`ﬁ`), super- and
//!    subscripts (`CO₂` = `co2`) and other compatibility characters become
//!    their plain forms. Characters that normalisation turns into separators
//!    (the spaces of `ﷺ`, the fraction slash of `½`) split words.
//! 3. **Word boundaries** follow Unicode word segmentation (UAX #29) inside a
//!    chunk, so each CJK ideograph, hiragana or Thai letter is a word of its
//!    own and a katakana run is split from adjacent Latin letters, and
//!    additionally every separator of rule 1 splits a word even where UAX #29
//!    would not: `U.S.` is `u`, `s`; `3.5` is `3`, `5`; `1,000` is `1`,
//!    `000`; `snake_case` is `snake`, `case`; `a:b` is `a`, `b`. A word
//!    counts only if it contains a letter or digit after folding, and a
//!    combining mark with nothing before it in its word is dropped.
//! 4. **Case.** Lower case (`char::to_lowercase`), with the Turkish `I`, `İ`,
//!    `ı` and `i` all folded to `i`; `ß` and `ẞ` to `ss`; final sigma `ς` to
//!    `σ`.
//! 5. **Combining marks removed.** Characters in Latin, Greek, Cyrillic and
//!    Armenian (below U+0590) and Latin/Greek Extended (U+1E00–U+1FFF) are
//!    canonically decomposed, and these marks are dropped wherever they occur:
//!    U+0300–U+036F, U+0483–U+0489 (Cyrillic), the Hebrew points and accents
//!    U+0591–U+05BD, U+05BF, U+05C1–U+05C2, U+05C4–U+05C5, U+05C7 (the
//!    punctuation among them still separates words), the Arabic marks U+0610–U+061A, U+064B–U+065F (tashkeel,
//!    including U+0653 maddah and U+0654/U+0655 hamza), U+0670 (superscript
//!    alef), U+06D6–U+06DC, U+06DF–U+06E8 (Quranic annotation, including the
//!    small waw and yeh U+06E5/U+06E6), U+06EA–U+06ED, U+0898–U+089F,
//!    U+08CA–U+08E1, U+08E3–U+08FF, and the generic U+1AB0–U+1AFF,
//!    U+1DC0–U+1DFF, U+20D0–U+20FF, U+FE20–U+FE2F and the variation selectors
//!    U+FE00–U+FE0F, U+E0100–U+E01EF. So `Kürdistan` = `Kurdistan`, `é` =
//!    `e`, `ş` = `s`, `اسْتِفْتَاء` = `استفتاء`. This also merges letters that
//!    some alphabets count as distinct (Turkish `ç ğ ö ş ü`, Kurmanji `ê î û`,
//!    Russian `й` = `и` and `ё` = `е`), which is what a reader typing without
//!    them expects. Letters that have no canonical decomposition keep their
//!    identity (`ø`, `ł`, `đ`, `æ`).
//!    Marks of other scripts (Indic vowel signs, viramas) are kept: removing
//!    them would merge different words.
//!    5b. **Latin letters without a decomposition** fold as Lucene's
//!    ASCIIFoldingFilter folds them: `ə` → `a` (`Əliyev` = `Aliyev`), `ł ŀ`
//!    → `l` (`Łódź` = `Lodz`), `đ ð` → `d`, `ø` → `o` (`Støre` = `Store`),
//!    `ħ` → `h`, `ŧ` → `t`, `ŋ` → `n`, `ƒ` → `f`, `æ` → `ae`, `œ` → `oe`,
//!    `þ` → `th`.
//! 6. **Invisible characters removed** without splitting the word: tatweel
//!    U+0640 (`كـردستان` = `کردستان`), soft hyphen U+00AD (a hyphenation
//!    point inside one word: `refer\u{AD}endum` = `referendum`), the bidi
//!    controls U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069, and,
//!    as ICU does, ZWJ U+200D, word joiner U+2060 and U+FEFF
//!    (`Kurdi\u{200D}stan` = `Kurdistan`).
//! 7. **ZWNJ splits words:** U+200C. `همه‌پرسی` is `همه`, `پرسی` and
//!    matches the phrase `"همه پرسی"`. (So does U+200B ZERO WIDTH SPACE,
//!    a word boundary to UAX #29: Thai and Khmer text marks words with it.)
//! 8. **Apostrophes split words:** `'` U+0027, `’` U+2019, `‘` U+2018, `‛`
//!    U+201B, `＇` U+FF07 (punctuation, rule 1) and also U+02BC `ʼ`, which is
//!    a letter to Unicode but is used as an apostrophe (`Kurdistanʼs`).
//!    `Kurdistan's` is `kurdistan`, `s`; `IKBY'nin` is `ikby`, `nin`.
//!    (U+02BB `ʻ`, the ʻokina, stays a letter.)
//! 9. **Arabic-script letter variants unified:** `ك` → `ک`; `ي`, `ى` → `ی`;
//!    `أ`, `إ`, `آ`, `ٱ`, `ٲ`, `ٳ` → `ا`; `ة`, `ۀ`, `ھ` → `ه`; the Urdu
//!    letters `ہ`, `ۃ` → `ه` and `ے` → `ی` (as Lucene's Persian filter). The
//!    heh doachashmee `ھ` U+06BE is how many Sorani texts write `h`
//!    (`ھەولێر` = `هەولێر`). A separately encoded hamza U+0654 after a
//!    yeh makes `ئ` (as NFKC already does for `ي` + U+0654); `ە` + U+0654 is
//!    `ۀ` to NFKC, so `ه`; elsewhere the hamza is dropped (rule 5).
//!    Kept distinct: `ئ` U+0626 and `ؤ` U+0624 (hamza on yeh/waw: `ئ` begins
//!    every vowel-initial Sorani word, so folding it into `ی` would merge
//!    words), `ء` U+0621, `ە` U+06D5 (the Sorani vowel, never `ه`), and the
//!    Sorani letters `ڕ ۆ ێ ڵ ڤ`, and `گ چ پ ژ`.
//! 10. **Digits:** Arabic-Indic U+0660–U+0669 and Persian U+06F0–U+06F9 become
//!     ASCII `0`–`9` (`۲۰۱۷` = `2017`); full-width digits by NFKC. Digits of
//!     other scripts are kept as they are.
//! 11. **No stemming** in folding: `referendums` is not `referendum`,
//!     `Kurds` is not `Kurdistan`, `referandumu` is not `referandum`. A
//!     folded word is what was written.
//! 13. **Sorani spellings** (text identified as Sorani, `ckb`, and query
//!     terms with a letter only Sorani uses): a `ه` before a ZWNJ is `ە`
//!     and joins the word (`هه‌ولێر` = `هەولێر`), a final `ه` is `ە`, an
//!     initial `ر` is `ڕ`, `ڒ` is `ڕ` ([`words_in`]). Persian and Arabic
//!     text keeps them (`همه‌پرسی` stays two words). A query term without
//!     such a letter is read as written *and* as Sorani would spell it
//!     ([`sorani_readings`]: `په‌رله‌مان` also stands for `پەرلەمان`); the
//!     Sorani reading has an `ە` or `ڕ`, so it only finds Sorani articles.
//! 12. **Arabic proclitics** are handled when matching, not folding: an
//!     article word also has its [`proclitic_forms`] (`والعراق` is also
//!     `العراق` and `عراق`, `للعراق` is `العراق`, `وبغداد` is `بغداد`,
//!     `الاستفتاء` is `استفتاء`), and a query word matches a word as written
//!     or one of its forms. A query word also stands for its
//!     [`query_stem`], stripped by the same prefixes but only when four
//!     letters or more remain, so
//!     `الاستفتاء`, `والاستفتاء` and `استفتاء` find each other both ways
//!     while `والي` does not find every `الي` nor `وزير` every `زير`; a
//!     word that only begins with those letters has no form (`بلد`,
//!     `لبنان`, `فرنسا`). Wildcards match words as written. The full-text
//!     index holds the words as written; a search looks a word up under
//!     all its [`proclitic_spellings`].
//! 14. **Glued compounds** are handled in the query, not folding: a query
//!     word written glued also stands for the two words Persian writes
//!     with a ZWNJ or a space ([`compound_splits`]: `همهپرسی` is also
//!     `"همه پرسی"`, `میخواهد` also `"می خواهد"`), and two Arabic-script
//!     words of a query for the word glued. Articles keep their ZWNJ
//!     words, so nothing is re-indexed.
//!
//! # Ranges
//!
//! A range from [`word_spans`] runs from the first original character that
//! contributes to the word to the last one, including combining marks that
//! were dropped from the word's last letter (so a highlight covers `é` written
//! as `e` + U+0301). When one original character expands into several words
//! (`ﷺ`), each of those words has that character's range.

use std::borrow::Cow;
use std::ops::Range;

use unicode_normalization::char as ucd;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};
use unicode_segmentation::UnicodeSegmentation;

/// Folds a text for comparison without splitting it into words: every word
/// character is folded as in [`words`] (NFKC, lower case, marks and invisible
/// characters removed, letter variants and digits unified); characters that
/// separate words are kept unchanged.
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut copied = 0;
    for chunk in Chunks::new(input) {
        out.push_str(&input[copied..chunk.range.start]);
        copied = chunk.range.end;
        let text = &input[chunk.range.clone()];
        if chunk.ascii {
            push_ascii_lower(&mut out, text);
            continue;
        }
        let normalized = if is_nfkc(&chunk, text) {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(text.nfkc().collect::<String>())
        };
        for c in normalized.chars() {
            if fold_char(c, &mut out) == Kind::Separator {
                out.push(c);
            }
        }
    }
    out.push_str(&input[copied..]);
    out
}

/// Splits a text into folded words, in order. See the module documentation
/// for the rules.
pub fn words(input: &str) -> Vec<String> {
    let mut words = Vec::new();
    for_each_word(input, |_, word| words.push(word.to_owned()));
    words
}

/// The folded words of a text, in order, each with the byte range in `input`
/// of the original text it was folded from: `&input[range]` is the word as
/// written, with its case, accents, tatweel or presentation forms (see
/// "Ranges" in the module documentation). The words are those of [`words`].
pub fn word_spans(input: &str) -> Vec<(Range<usize>, String)> {
    let mut spans = Vec::new();
    for_each_word(input, |range, word| spans.push((range, word.to_owned())));
    spans
}

/// Calls `emit` with the range and folded text of every word, in order.
fn for_each_word(input: &str, mut emit: impl FnMut(Range<usize>, &str)) {
    let mut buf = WordBuf::default();
    let mut norm = Normalized::default();
    let mut lower = String::new();
    for chunk in Chunks::new(input) {
        let text = &input[chunk.range.clone()];
        if chunk.ascii {
            // ASCII is NFKC-stable and UAX #29 never splits a run of ASCII
            // letters and digits: the chunk is one word.
            if chunk.upper {
                lower.clear();
                push_ascii_lower(&mut lower, text);
                emit(chunk.range, &lower);
            } else {
                emit(chunk.range, text);
            }
            continue;
        }
        let base = chunk.range.start;
        if is_nfkc(&chunk, text) {
            if chunk.simple {
                buf.feed_str(text, base, &mut emit);
            } else {
                for (offset, segment) in text.split_word_bound_indices() {
                    buf.feed_str(segment, base + offset, &mut emit);
                    buf.flush(&mut emit);
                }
            }
        } else {
            norm.fill(text, base);
            let simple = norm.text.chars().all(|c| !is_word_char(c) || joins_in_uax29(c));
            let mut origins = norm.origins.iter();
            let mut feed_segment = |segment: &str, buf: &mut WordBuf| {
                for c in segment.chars() {
                    let origin = origins.next().expect("one origin per character");
                    buf.feed(c, origin.clone(), &mut emit);
                }
                buf.flush(&mut emit);
            };
            if simple {
                feed_segment(&norm.text, &mut buf);
            } else {
                for segment in norm.text.split_word_bounds() {
                    feed_segment(segment, &mut buf);
                }
            }
        }
        buf.flush(&mut emit);
    }
}

/// Whether the chunk `text` is already NFKC.
fn is_nfkc(chunk: &Chunk, text: &str) -> bool {
    chunk.stable || is_nfkc_quick(text.chars()) == IsNormalized::Yes
}

fn push_ascii_lower(out: &mut String, ascii: &str) {
    out.extend(ascii.bytes().map(|b| char::from(b.to_ascii_lowercase())));
}

/// A maximal run of word characters (rule 1).
struct Chunk {
    range: Range<usize>,
    /// Only ASCII letters and digits.
    ascii: bool,
    /// Contains an ASCII upper-case letter.
    upper: bool,
    /// Every character is a starter with NFKC_QC=Yes, so the chunk is NFKC
    /// (if false, it may still be).
    stable: bool,
    /// UAX #29 never breaks between two of its characters ([`joins_in_uax29`]),
    /// so the chunk needs no segmentation (if it is also NFKC).
    simple: bool,
}

struct Chunks<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Chunks<'a> {
    fn new(input: &'a str) -> Self {
        Self { input, pos: 0 }
    }

    /// The character at byte `pos` (a char boundary) and its length.
    fn char_at(&self, pos: usize) -> (char, usize) {
        let c = self.input[pos..].chars().next().expect("pos < len");
        (c, c.len_utf8())
    }
}

impl Iterator for Chunks<'_> {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        let bytes = self.input.as_bytes();
        // Skip separators.
        let start = loop {
            let &b = bytes.get(self.pos)?;
            if b.is_ascii() {
                if b.is_ascii_alphanumeric() {
                    break self.pos;
                }
                self.pos += 1;
            } else {
                let (c, len) = self.char_at(self.pos);
                if is_word_char(c) {
                    break self.pos;
                }
                self.pos += len;
            }
        };
        let mut chunk = Chunk {
            range: start..start,
            ascii: true,
            upper: false,
            stable: true,
            simple: true,
        };
        while let Some(&b) = bytes.get(self.pos) {
            if b.is_ascii() {
                if !b.is_ascii_alphanumeric() {
                    break;
                }
                chunk.upper |= b.is_ascii_uppercase();
                self.pos += 1;
            } else {
                let (c, len) = self.char_at(self.pos);
                let (word, stable, joins) = match table_entry(c) {
                    Some(e) => (e.word, e.stable, e.joins),
                    None => (is_word_char_uncached(c), false, joins_in_uax29(c)),
                };
                if !word {
                    break;
                }
                chunk.ascii = false;
                chunk.stable &= stable;
                chunk.simple &= joins;
                self.pos += len;
            }
        }
        chunk.range.end = self.pos;
        Some(chunk)
    }
}

/// A chunk in NFKC with, for each character, the range of the original text
/// it came from.
#[derive(Default)]
struct Normalized {
    text: String,
    origins: Vec<Range<usize>>,
}

impl Normalized {
    /// Normalises `chunk` (found at byte `base` of the input) piece by piece:
    /// NFKC never changes text across a character that is a starter and
    /// NFKC_QC=Yes, so each piece from one such character to the next
    /// normalises on its own and its output maps back to it.
    fn fill(&mut self, chunk: &str, base: usize) {
        self.text.clear();
        self.origins.clear();
        let mut piece_start = 0;
        for (i, c) in chunk.char_indices() {
            if i > piece_start && is_normalization_boundary(c) {
                self.push_piece(&chunk[piece_start..i], base + piece_start..base + i);
                piece_start = i;
            }
        }
        if piece_start < chunk.len() {
            self.push_piece(&chunk[piece_start..], base + piece_start..base + chunk.len());
        }
    }

    fn push_piece(&mut self, piece: &str, origin: Range<usize>) {
        for c in piece.nfkc() {
            self.text.push(c);
            self.origins.push(origin.clone());
        }
    }
}

fn is_normalization_boundary(c: char) -> bool {
    c.is_ascii()
        || (ucd::canonical_combining_class(c) == 0 && is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes)
}

/// The word being built: its folded text and original range.
#[derive(Default)]
struct WordBuf {
    text: String,
    range: Range<usize>,
    /// A character has been folded into `text` (the range is set).
    open: bool,
    /// `text` contains a letter or digit.
    letter: bool,
    /// A mark or invisible character was dropped from inside the word, so
    /// characters it kept apart may now compose (see [`WordBuf::flush`]).
    dropped: bool,
}

impl WordBuf {
    fn feed_str(&mut self, s: &str, base: usize, emit: &mut impl FnMut(Range<usize>, &str)) {
        for (i, c) in s.char_indices() {
            let start = base + i;
            self.feed(c, start..start + c.len_utf8(), emit);
        }
    }

    fn feed(&mut self, c: char, origin: Range<usize>, emit: &mut impl FnMut(Range<usize>, &str)) {
        match fold_char(c, &mut self.text) {
            // A mark with nothing before it in the word has no base.
            Kind::KeptMark if !self.open => self.text.clear(),
            kind @ (Kind::Letter | Kind::KeptMark) => {
                if !self.open {
                    self.open = true;
                    self.range.start = origin.start;
                }
                self.range.end = origin.end;
                self.letter |= kind == Kind::Letter;
            }
            Kind::Mark => {
                if self.open {
                    self.range.end = origin.end;
                    self.dropped = true;
                }
            }
            Kind::Invisible => self.dropped |= self.open,
            Kind::Separator => self.flush(emit),
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(Range<usize>, &str)) {
        if self.letter {
            if self.dropped {
                renormalize(&mut self.text);
            }
            emit(self.range.clone(), &self.text);
        }
        self.text.clear();
        self.open = false;
        self.letter = false;
        self.dropped = false;
    }
}

/// Normalises a folded word again after a mark or invisible character was
/// dropped from it: what stood between two characters could keep them from
/// composing (`ᄒ` U+2068 `ᅡ` `ᆫ` folds to the jamo of `한`, which NFKC
/// composes), so the word would not be NFKC and would not fold to itself
/// (found by fuzzing, see docs/fuzzing.md).
fn renormalize(word: &mut String) {
    if word.is_ascii() || is_nfkc_quick(word.chars()) == IsNormalized::Yes {
        return;
    }
    let normalized: String = word.nfkc().collect();
    word.clear();
    for c in normalized.chars() {
        fold_char(c, word);
    }
}

/// What [`fold_char`] did with a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A letter or digit: its folded form was pushed.
    Letter,
    /// A combining mark that is kept (rule 5): pushed, but not a letter.
    KeptMark,
    /// A removed combining mark or tatweel: part of the word, nothing pushed.
    Mark,
    /// A removed invisible character: nothing pushed.
    Invisible,
    /// Separates words: nothing pushed.
    Separator,
}

/// Whether `c` belongs to a chunk (rule 1).
fn is_word_char(c: char) -> bool {
    match table_entry(c) {
        Some(entry) => entry.word,
        None => is_word_char_uncached(c),
    }
}

/// [`is_word_char`] without the table.
fn is_word_char_uncached(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else if is_arabic_block(c) {
        !is_arabic_separator(c)
    } else {
        c != '\u{02BC}' && (c.is_alphanumeric() || ucd::is_combining_mark(c) || is_invisible(c))
    }
}

/// Folds one NFKC character onto `out` (rules 4–10).
fn fold_char(c: char, out: &mut String) -> Kind {
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            Kind::Letter
        } else {
            Kind::Separator
        };
    }
    match table_entry(c) {
        // The hamza looks at the previous character.
        Some(entry) if c != '\u{0654}' => {
            for &o in &entry.folded[..usize::from(entry.folded_len)] {
                out.push(o);
            }
            entry.kind
        }
        _ => fold_char_uncached(c, out),
    }
}

/// What the table of [`table_entry`] caches about a character.
#[derive(Clone, Copy)]
struct CharInfo {
    /// [`fold_char_uncached`]: what it returns and pushes.
    kind: Kind,
    folded: [char; 2],
    folded_len: u8,
    /// [`is_word_char_uncached`].
    word: bool,
    /// A starter with NFKC_QC=Yes: a run of these is NFKC.
    stable: bool,
    /// [`joins_in_uax29`].
    joins: bool,
}

/// Start and end of the code points cached by [`table_entry`]: Latin-1
/// to Arabic, where most non-ASCII text in feeds is.
const TABLE_START: u32 = 0x80;
const TABLE_END: u32 = 0x800;

/// What the folding functions compute for `c`, if it is in the table (a
/// cache built on first use from the uncached functions).
fn table_entry(c: char) -> Option<&'static CharInfo> {
    static TABLE: std::sync::OnceLock<Vec<CharInfo>> = std::sync::OnceLock::new();
    let index = (c as u32).checked_sub(TABLE_START)?;
    if index >= TABLE_END - TABLE_START {
        return None;
    }
    let table = TABLE.get_or_init(|| {
        (TABLE_START..TABLE_END)
            .map(|u| {
                let c = char::from_u32(u).expect("no surrogates below U+0800");
                let mut out = String::new();
                let kind = fold_char_uncached(c, &mut out);
                let mut folded = ['\0'; 2];
                let mut folded_len = 0;
                for (slot, o) in folded.iter_mut().zip(out.chars()) {
                    *slot = o;
                    folded_len += 1;
                }
                assert_eq!(usize::from(folded_len), out.chars().count(), "{c:?}");
                CharInfo {
                    kind,
                    folded,
                    folded_len,
                    word: is_word_char_uncached(c),
                    stable: ucd::canonical_combining_class(c) == 0
                        && is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes,
                    joins: joins_in_uax29(c),
                }
            })
            .collect()
    });
    Some(&table[index as usize])
}

/// [`fold_char`] without the table.
fn fold_char_uncached(c: char, out: &mut String) -> Kind {
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            Kind::Letter
        } else {
            Kind::Separator
        };
    }
    if is_arabic_block(c) {
        return fold_arabic(c, out);
    }
    if is_removed_mark(c) {
        return Kind::Mark;
    }
    if is_invisible(c) {
        return Kind::Invisible;
    }
    if c == '\u{02BC}' {
        return Kind::Separator;
    }
    let mark = ucd::is_combining_mark(c);
    if !mark && !c.is_alphanumeric() {
        return Kind::Separator;
    }
    match c {
        'İ' | 'ı' => out.push('i'),
        _ => c.to_lowercase().for_each(|l| push_decomposed(l, out)),
    }
    if mark {
        Kind::KeptMark
    } else {
        Kind::Letter
    }
}

/// Pushes a lower-case character with its removable marks dropped (rules 4
/// and 5).
fn push_decomposed(c: char, out: &mut String) {
    match c {
        'ß' => out.push_str("ss"),
        'ς' => out.push('σ'),
        // Latin letters without a canonical decomposition (rule 5b), as
        // Lucene's ASCIIFoldingFilter folds them.
        'ə' => out.push('a'),
        'ł' | 'ŀ' => out.push('l'),
        'đ' | 'ð' => out.push('d'),
        'ø' => out.push('o'),
        'ħ' => out.push('h'),
        'ŧ' => out.push('t'),
        'ŋ' => out.push('n'),
        'ƒ' => out.push('f'),
        'æ' => out.push_str("ae"),
        'œ' => out.push_str("oe"),
        'þ' => out.push_str("th"),
        c if (c as u32) < 0x0590 || ('\u{1E00}'..='\u{1FFF}').contains(&c) => {
            ucd::decompose_canonical(c, |d| {
                if !is_removed_mark(d) {
                    out.push(d);
                }
            })
        }
        c => out.push(c),
    }
}

/// Whether `c` is in the Arabic block (Arabic, Persian, Kurdish letters).
pub(crate) fn is_arabic_block(c: char) -> bool {
    ('\u{0600}'..='\u{06FF}').contains(&c)
}

/// The characters of the Arabic block that are neither letters, digits nor
/// marks, nor the invisible U+061C (checked against the Unicode tables by a
/// test).
fn is_arabic_separator(c: char) -> bool {
    matches!(c,
        '\u{0600}'..='\u{060F}'
        | '\u{061B}'
        | '\u{061D}'..='\u{061F}'
        | '\u{066A}'..='\u{066D}'
        | '\u{06D4}'
        | '\u{06DD}'
        | '\u{06DE}'
        | '\u{06E9}'
        | '\u{06FD}'
        | '\u{06FE}')
}

/// Rules 5, 6, 9 and 10 for the Arabic block U+0600–U+06FF.
fn fold_arabic(c: char, out: &mut String) -> Kind {
    let folded = match c {
        '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}'..='\u{0673}' => 'ا',
        '\u{0629}' | '\u{06BE}' | '\u{06C0}' | '\u{06C1}' | '\u{06C3}' => 'ه',
        '\u{06D2}' => 'ی',
        '\u{0643}' => 'ک',
        '\u{0649}' | '\u{064A}' => 'ی',
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        '\u{0640}' => return Kind::Mark,
        '\u{0654}' => {
            if out.ends_with('ی') {
                out.pop();
                out.push('ئ');
            }
            return Kind::Mark;
        }
        '\u{061C}' => return Kind::Invisible,
        c if is_removed_mark(c) => return Kind::Mark,
        c if is_arabic_separator(c) => return Kind::Separator,
        c => c,
    };
    out.push(folded);
    Kind::Letter
}

/// Combining marks removed by rule 5.
fn is_removed_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{0483}'..='\u{0489}'
        | '\u{0591}'..='\u{05BD}'
        | '\u{05BF}'
        | '\u{05C1}'..='\u{05C2}'
        | '\u{05C4}'..='\u{05C5}'
        | '\u{05C7}'
        | '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06DC}'
        | '\u{06DF}'..='\u{06E8}'
        | '\u{06EA}'..='\u{06ED}'
        | '\u{0898}'..='\u{089F}'
        | '\u{08CA}'..='\u{08E1}'
        | '\u{08E3}'..='\u{08FF}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// Invisible characters removed by rule 6 (tatweel aside, which is a letter
/// to Unicode and handled with the Arabic block).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{200D}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Word characters whose UAX #29 class is ALetter, Hebrew_Letter, Numeric,
/// Extend or Format: UAX #29 never breaks between two of them, so a chunk of
/// these needs no segmentation (checked against the segmenter by a test).
fn joins_in_uax29(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c,
            '\u{00AA}' | '\u{00AD}' | '\u{00B5}' | '\u{00BA}'
            | '\u{00C0}'..='\u{02FF}'
            | '\u{0300}'..='\u{036F}'
            | '\u{0370}'..='\u{052F}'
            | '\u{0531}'..='\u{058F}'
            | '\u{0591}'..='\u{05C7}'
            | '\u{05D0}'..='\u{05FF}'
            | '\u{0600}'..='\u{06FF}'
            | '\u{0750}'..='\u{077F}'
            | '\u{08A0}'..='\u{08FF}'
            | '\u{1E00}'..='\u{1FFF}'
            | '\u{200D}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Whether a language tag is Sorani (Central Kurdish, `ckb`).
fn is_sorani(lang: Option<&str>) -> bool {
    lang.is_some_and(|l| crate::model::primary_language(l) == "ckb")
}

/// Whether a text has a letter only Sorani uses among the Arabic-script
/// languages (`ڕ ڵ ێ ۆ ە ڤ ڒ`): a query term written so is folded with the
/// Sorani rules (rule 13).
pub fn is_sorani_text(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, 'ڕ' | 'ڵ' | 'ێ' | 'ۆ' | 'ە' | 'ڤ' | 'ڒ'))
}

/// [`words`] of a text in language `lang` (a tag, e.g. the item's): Sorani
/// text follows rule 13 as well.
pub fn words_in(input: &str, lang: Option<&str>) -> Vec<String> {
    if is_sorani(lang) {
        sorani_spans(input, word_spans(input))
            .into_iter()
            .map(|(_, w)| w)
            .collect()
    } else {
        words(input)
    }
}

/// [`word_spans`] of a text in language `lang`, as [`words_in`] splits it.
pub fn word_spans_in(input: &str, lang: Option<&str>) -> Vec<(Range<usize>, String)> {
    let spans = word_spans(input);
    if is_sorani(lang) {
        sorani_spans(input, spans)
    } else {
        spans
    }
}

/// Rule 13 over the words of a Sorani text: a `ه` written before a ZWNJ
/// is the vowel `ە` and does not end the word (`هه‌ولێر` = `هەولێر`), a
/// word-final `ه` is `ە` (`کۆنگره` = `کۆنگرە`), a word-initial `ر` is `ڕ`
/// (`ریفراندۆم` = `ڕیفراندۆم`) and `ڒ` is `ڕ` — the spellings Lucene's
/// SoraniNormalizer unifies. Persian keeps them apart (`همه‌پرسی` is two
/// words), so they apply to Sorani text only.
fn sorani_spans(input: &str, spans: Vec<(Range<usize>, String)>) -> Vec<(Range<usize>, String)> {
    let mut out: Vec<(Range<usize>, String)> = Vec::with_capacity(spans.len());
    let mut joins = false;
    for (range, word) in spans {
        match out.last_mut() {
            Some((last, text)) if joins && input.get(last.end..range.start) == Some("\u{200C}") => {
                text.pop();
                text.push('ە');
                text.push_str(&word);
                last.end = range.end;
            }
            _ => out.push((range, word)),
        }
        let (last, text) = out.last().expect("pushed or extended");
        joins = text.ends_with('ه') && input[last.end..].starts_with('\u{200C}');
    }
    for (_, word) in &mut out {
        *word = sorani_word(word);
    }
    out
}

/// The word-level spellings of rule 13 (`ڒ` → `ڕ`, initial `ر` → `ڕ`,
/// final `ه` → `ە`), as a query read as Sorani spells each of its words.
pub fn sorani_word(word: &str) -> String {
    let mut out: String = word.chars().map(|c| if c == 'ڒ' { 'ڕ' } else { c }).collect();
    if let Some(rest) = out.strip_prefix('ر') {
        out = format!("ڕ{rest}");
    }
    if out.ends_with('ه') && out.chars().count() > 1 {
        out.pop();
        out.push('ە');
    }
    out
}

/// Proclitics of Arabic (rule 12), spelled as [`words`] folds them (`ك`
/// is `ک`): the conjunction `و`, then the article `ال` alone or after one
/// of the prepositions/conjunctions `و ب ک ف`, or `لل` (`ل` + `ال`).
const ARTICLE: &str = "ال";
const WITH_ARTICLE: [&str; 4] = ["وال", "بال", "کال", "فال"];
const LI_ARTICLE: &str = "لل";
const WAW: &str = "و";

/// The forms of a folded word without its Arabic proclitics (rule 12), in
/// the spirit of Lucene's `ArabicStemmer` prefixes: `والعراق` →
/// `العراق`, `عراق`; `للعراق` → `العراق`, `عراق`; `بالعراق` → `العراق`,
/// `عراق`; `وبغداد` → `بغداد`; `الاستفتاء` → `استفتاء`. A leading `و` goes
/// only from a word of more than three letters, an article only when at
/// least two letters remain, so short words keep their letters (`وطن`,
/// `بال`, `الف`). The single-letter prepositions `ب ک ل ف` are stripped
/// only with the article: `بلد`, `لبنان`, `فرنسا` have no other form.
/// Empty for every word that does not begin with those letters.
pub fn proclitic_forms(word: &str) -> Vec<String> {
    let mut forms = Vec::new();
    if !word.starts_with(['و', 'ب', 'ک', 'ف', 'ل', 'ا']) {
        return forms;
    }
    let letters = |s: &str| s.chars().count();
    let mut rest = word;
    if let Some(after) = rest.strip_prefix(WAW) {
        if letters(word) > 3 {
            forms.push(after.to_string());
            rest = after;
        }
    }
    let stripped = WITH_ARTICLE
        .iter()
        .chain([&LI_ARTICLE])
        .find_map(|p| rest.strip_prefix(p))
        .filter(|r| letters(r) >= 2);
    if let Some(stem) = stripped {
        forms.push(format!("{ARTICLE}{stem}"));
        forms.push(stem.to_string());
    } else if let Some(stem) = rest.strip_prefix(ARTICLE).filter(|r| letters(r) >= 2) {
        forms.push(stem.to_string());
    }
    forms.retain(|f| f != word);
    forms.sort();
    forms.dedup();
    forms
}

/// What a query word stands for without its Arabic proclitics (rule 12,
/// query side): the proclitics an article word is seen through are
/// stripped from a query word too, one after another, so that
/// `الاستفتاء`, `والاستفتاء` and `استفتاء` find each other both ways
/// (Lucene's `ArabicStemmer` strips on both sides). Stricter than the
/// article side, because the stem a query stands for matches every article
/// word with that stem: the article (`ال`, `وال`, `بال`, `کال`, `فال`,
/// `لل`) and a leading `و` go only when at least four letters follow
/// (`العراق` → `عراق`, `وبغداد` → `بغداد`; but `الله` stays, not `له`,
/// `الآن` not `ان`, `الأحد` (Sunday) not `احد` (one), `الآلي` not `الی`
/// (to), `وزیر` not `زیر`, `والی` not `الی`). `None` when nothing is
/// stripped.
pub fn query_stem(word: &str) -> Option<String> {
    let letters = |s: &str| s.chars().count();
    let mut stem = word;
    loop {
        let article = WITH_ARTICLE
            .iter()
            .chain([&LI_ARTICLE, &ARTICLE])
            .find_map(|p| stem.strip_prefix(p))
            .filter(|r| letters(r) >= 4);
        let waw = || stem.strip_prefix(WAW).filter(|r| letters(r) >= 4);
        match article.or_else(waw) {
            Some(rest) => stem = rest,
            None => break,
        }
    }
    (stem != word).then(|| stem.to_string())
}

/// Where a query word written glued may be a compound an article writes
/// with a ZWNJ or a space (`همهپرسی` = `همه‌پرسی` = `همه پرسی`,
/// `میخواهد` = `می‌خواهد`): the two parts of every split after a `ه` or
/// `ی` ending a first part of at least three letters, or after the
/// prefixes `می` and `بی` — where Persian writes a ZWNJ — with a second
/// part of at least two letters. Two-letter words ending so (`به`, `که`,
/// `نه`, `چه`) are words of their own, not the first part of a compound:
/// `بهروز` (a name) is not split into `به روز` ("updated"). Sorani words
/// are not split (in Sorani a ZWNJ after `ه` is the vowel `ە`, rule 13).
pub fn compound_splits(word: &str) -> Vec<[String; 2]> {
    let mut splits = Vec::new();
    if !word.chars().all(is_arabic_block) || is_sorani_text(word) {
        return splits;
    }
    let chars: Vec<char> = word.chars().collect();
    for cut in 2..chars.len().saturating_sub(1) {
        let first: String = chars[..cut].iter().collect();
        let ok = match cut {
            2 => first == "می" || first == "بی",
            _ => first.ends_with(['ه', 'ی']),
        };
        if ok {
            splits.push([first, chars[cut..].iter().collect()]);
        }
    }
    splits
}

/// How Sorani would spell the folded words of a query read as written
/// (rule 13, for a query with no letter only Sorani uses: it may be
/// Persian, or Sorani written without them): each word with its Sorani
/// spellings (`کۆنگره` → `کۆنگرە`, `رووداو` → `ڕووداو`), and, since a ZWNJ
/// and a space look the same once folded, also the words after a final
/// `ه` joined to it (`په رله مان` → `پەرلەمان`). Every reading differs from
/// the words in an `ە` or `ڕ`, letters that only Sorani text has, so it can
/// match Sorani articles only: Persian `همه‌پرسی` stays two words. Empty
/// when Sorani spells the words the same.
pub fn sorani_readings(words: &[String]) -> Vec<Vec<String>> {
    let mut readings: Vec<Vec<String>> = Vec::new();
    if !words.iter().all(|w| w.chars().all(is_arabic_block)) || words.iter().any(|w| is_sorani_text(w)) {
        return readings;
    }
    readings.push(words.iter().map(|w| sorani_word(w)).collect());
    let mut joined: Vec<String> = Vec::new();
    let mut joins = false;
    for word in words {
        match joined.last_mut() {
            Some(last) if joins => {
                last.pop();
                last.push('ە');
                last.push_str(word);
            }
            _ => joined.push(word.clone()),
        }
        joins = word.ends_with('ه');
    }
    readings.push(joined.iter().map(|w| sorani_word(w)).collect());
    readings.dedup();
    readings.retain(|r| r.as_slice() != words);
    readings
}

/// The words whose [`proclitic_forms`] include `form`: every spelling of
/// `form` with proclitics (`العراق` → `والعراق`, `للعراق`, `بالعراق`, …),
/// for looking words up where only the written words are indexed (the
/// full-text index).
pub fn proclitic_spellings(form: &str) -> Vec<String> {
    let mut candidates: Vec<String> = Vec::new();
    if !form.starts_with(is_arabic_block) {
        return candidates;
    }
    let mut with_article = |stem: &str| {
        for p in WITH_ARTICLE.iter().chain([&LI_ARTICLE, &ARTICLE]) {
            candidates.push(format!("{p}{stem}"));
        }
    };
    with_article(form);
    if let Some(stem) = form.strip_prefix(ARTICLE) {
        with_article(stem);
    }
    let first: Vec<String> = candidates.clone();
    candidates.push(format!("{WAW}{form}"));
    candidates.extend(first.iter().map(|c| format!("{WAW}{c}")));
    candidates.retain(|c| proclitic_forms(c).iter().any(|f| f == form));
    candidates.sort();
    candidates.dedup();
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_proclitics_have_forms_without_them() {
        let forms = |w: &str| proclitic_forms(&words(w)[0]);
        let folded = |w: &str| words(w)[0].clone();
        for (word, form) in [
            ("والعراق", "العراق"),
            ("والعراق", "عراق"),
            ("للعراق", "العراق"),
            ("بالعراق", "العراق"),
            ("فالعراق", "العراق"),
            ("كالعراق", "العراق"),
            ("وبالعراق", "العراق"),
            ("وبغداد", "بغداد"),
            ("الاستفتاء", "استفتاء"),
            ("والاستفتاء", "استفتاء"),
        ] {
            assert!(
                forms(word).contains(&folded(form)),
                "{word} → {form}: {:?}",
                forms(word)
            );
            assert!(
                proclitic_spellings(&folded(form)).contains(&folded(word)),
                "{form} ← {word}"
            );
        }
        // Words that only begin with those letters keep them.
        for word in [
            "بلد",
            "لبنان",
            "فرنسا",
            "وطن",
            "بال",
            "ولي",
            "الف",
            "Kurdistan",
            "کردستان",
        ] {
            assert_eq!(forms(word), Vec::<String>::new(), "{word}");
        }
        // `والي` (a governor) has a form, but `والي` itself is never
        // stripped: a query for it matches it as written.
        assert!(!forms("والي").contains(&folded("والي")));
    }

    #[test]
    fn sorani_text_follows_rule_13() {
        let ckb = |s: &str| words_in(s, Some("ckb"));
        assert_eq!(ckb("هه‌ولێر"), ckb("هەولێر"));
        assert_eq!(ckb("هه‌ولێر"), ["هەولێر"]);
        assert_eq!(ckb("په‌رله‌مان"), ckb("پەرلەمان"));
        assert_eq!(ckb("کۆنگره"), ckb("کۆنگرە"));
        assert_eq!(ckb("ریفراندۆم"), ckb("ڕیفراندۆم"));
        assert_eq!(ckb("رووداو"), ckb("ڕووداو"));
        assert_eq!(ckb("ڒێ"), ckb("ڕێ"));
        // Persian keeps its ZWNJ words and letters.
        assert_eq!(words_in("همه‌پرسی", Some("fa")), ["همه", "پرسی"]);
        assert_eq!(words_in("رهبر", Some("fa")), ["رهبر"]);
        // Ranges still cover the word as written.
        let text = "له‌ هه‌ولێر";
        for (range, word) in word_spans_in(text, Some("ckb")) {
            assert_eq!(words_in(&text[range], Some("ckb")), [word]);
        }
        assert!(is_sorani_text("هەولێر") && !is_sorani_text("همه پرسی"));
    }

    #[test]
    fn query_words_stand_for_their_stem_without_proclitics() {
        let stem = |w: &str| query_stem(&words(w)[0]);
        let folded = |w: &str| words(w)[0].clone();
        for (word, expected) in [
            ("والعراق", "عراق"),
            ("بالعراق", "عراق"),
            ("للعراق", "عراق"),
            ("فالعراق", "عراق"),
            ("وبالعراق", "عراق"),
            ("وللعراق", "عراق"),
            ("العراق", "عراق"),
            ("الاستفتاء", "استفتاء"),
            ("والاستفتاء", "استفتاء"),
            ("وبغداد", "بغداد"),
            ("وكردستان", "کردستان"),
            ("وأكار", "اکار"),
        ] {
            assert_eq!(stem(word), Some(folded(expected)), "{word}");
            // The stem is one of the forms an article word has, so the
            // two sides meet.
            assert!(
                proclitic_forms(&folded(word)).contains(&folded(expected)),
                "{word}"
            );
        }
        // Too short to strip on the query side: `الله` is not `له`, `الآن`
        // not `ان`, `الأحد` (Sunday) not `احد` (one), `الآلي` not `الی`
        // (to), `وزیر` (minister) not `زیر` (under), `والي` (governor) not
        // `الي` (to). Found in real text (BENCHMARKS.md).
        for word in [
            "الله",
            "الآن",
            "الأحد",
            "الآلي",
            "البوم",
            "وزير",
            "وزیر",
            "والي",
            "والد",
            "ولي",
            "لله",
            "بغداد",
            "لبنان",
            "فرنسا",
            "بلد",
            "استفتاء",
        ] {
            assert_eq!(stem(word), None, "{word}");
        }
        // The stem has no stem: stripping is done to the end.
        for word in ["والعراق", "وبالعراق", "والاستفتاء"] {
            assert_eq!(query_stem(&stem(word).unwrap()), None, "{word}");
        }
    }

    #[test]
    fn glued_compounds_split_where_persian_writes_a_zwnj() {
        let splits = |w: &str| compound_splits(&words(w)[0]);
        let pair = |a: &str, b: &str| [a.to_string(), b.to_string()];
        assert_eq!(splits("همهپرسی"), [pair("همه", "پرسی")]);
        assert_eq!(splits("میخواهد"), [pair("می", "خواهد")]);
        assert_eq!(splits("بیطرف"), [pair("بی", "طرف")]);
        assert_eq!(splits("نمیخواهد"), [pair("نمی", "خواهد")]);
        // Words of their own are not first parts; a part has two letters.
        for word in ["بهروز", "کهنه", "کردستان", "سوریه", "ترکیه", "Kurdistan", "همه"]
        {
            assert!(splits(word).is_empty(), "{word}: {:?}", splits(word));
        }
    }

    #[test]
    fn sorani_readings_of_persian_looking_words() {
        let read = |s: &str| sorani_readings(&words(s));
        let ckb = |s: &str| words_in(s, Some("ckb"));
        assert!(read("په‌رله‌مان").contains(&ckb("پەرلەمان")));
        assert!(
            read("کۆنگره").is_empty(),
            "Sorani letters: read as Sorani already"
        );
        assert!(read("کنگره").contains(&ckb("کنگرە")));
        assert!(read("رووداو").contains(&ckb("ڕووداو")));
        assert!(read("همه پرسی").contains(&ckb("همەپرسی")));
        assert!(read("همه پرسی").contains(&ckb("همە پرسی")));
        // Every reading has a letter only Sorani text has.
        for s in ["په‌رله‌مان", "کنگره", "رووداو", "همه پرسی", "مدرسه"] {
            for reading in read(s) {
                assert!(reading.iter().any(|w| is_sorani_text(w)), "{s}: {reading:?}");
            }
        }
        assert!(read("کردستان").is_empty());
        assert!(read("Kurdistan").is_empty());
    }

    #[test]
    fn proclitic_spellings_are_exactly_the_inverse_of_forms() {
        let text = "قال وزير الخارجية إن الاستفتاء في إقليم كردستان العراق غير شرعي وللعراق والعراقيين \
                    بالعراق فالحكومة وبغداد ولبنان وفرنسا بالاستفتاء كالعادة والي الوالي للغاية لله";
        for word in words(text) {
            for form in proclitic_forms(&word) {
                assert!(proclitic_spellings(&form).contains(&word), "{word} → {form}");
            }
        }
        for form in ["العراق", "عراق", "بغداد", "استفتاء", "وزير"] {
            for spelling in proclitic_spellings(form) {
                assert!(
                    proclitic_forms(&spelling).iter().any(|f| f == form),
                    "{spelling} → {form}"
                );
            }
        }
    }

    fn check(input: &str, expected: &[&str]) {
        assert_eq!(words(input), expected, "words({input:?})");
    }

    fn same(a: &str, b: &str) {
        assert_eq!(words(a), words(b), "{a:?} should fold like {b:?}");
        assert!(!words(a).is_empty(), "{a:?} has words");
    }

    fn differ(a: &str, b: &str) {
        assert_ne!(words(a), words(b), "{a:?} should not fold like {b:?}");
    }

    #[test]
    fn splits_and_folds_words() {
        check("Kurdistan referendum", &["kurdistan", "referendum"]);
        check("  KRG, Erbil; (Iraq)! ", &["krg", "erbil", "iraq"]);
        check("2017-09-25", &["2017", "09", "25"]);
        check("", &[]);
        check("...", &[]);
        check(
            "U.S. 3.5 1,000 snake_case a:b",
            &["u", "s", "3", "5", "1", "000", "snake", "case", "a", "b"],
        );
        check("al-Abadi", &["al", "abadi"]);
    }

    #[test]
    fn nfkc() {
        check("ＫＲＧ ＩＫＢＹ", &["krg", "ikby"]);
        check("ﬁnance", &["finance"]);
        check("CO₂ x²", &["co2", "x2"]);
        check("Ⅻ", &["xii"]);
        // Arabic presentation forms (كرد and كردستان, as in old PDFs).
        same("ﻛﺮﺩ ﻛﺮﺩﺳﺘﺎﻥ", "کرد کردستان");
        // ﷺ expands to four words.
        check("ﷺ", &["صلی", "الله", "علیه", "وسلم"]);
        // Symbols are separators before NFKC, not letters after it.
        check("Apple™ 10㎞", &["apple", "10"]);
        check("½", &["1", "2"]);
        // Decomposed and precomposed forms are the same word.
        same("Ku\u{308}rdistan", "Kürdistan");
        same("I\u{307}zmir", "İzmir");
    }

    #[test]
    fn case_and_turkish_i() {
        check("İSTANBUL Irak ılık", &["istanbul", "irak", "ilik"]);
        check("İ I ı i", &["i", "i", "i", "i"]);
        same("DİYARBAKIR", "diyarbakir");
        same("Diyarbakır", "DIYARBAKIR");
        check("Straße STRASSE ẞ", &["strasse", "strasse", "ss"]);
        same("ΟΔΥΣΣΕΥΣ", "οδυσσευς");
        same("Ὀδυσσεύς", "οδυσσευσ");
        same("МОСКВА", "москва");
    }

    #[test]
    fn latin_diacritics_removed() {
        same("Kürdistan", "Kurdistan");
        same("KÜRDİSTAN", "kurdistan");
        check("café résumé naïve", &["cafe", "resume", "naive"]);
        check(
            "güvenlik sınır işbirliği müzakere cumhurbaşkanı seçim",
            &[
                "guvenlik",
                "sinir",
                "isbirligi",
                "muzakere",
                "cumhurbaskani",
                "secim",
            ],
        );
        // Kurmanji.
        same("Kurdistanê û Herêma", "kurdistane u herema");
        same("Ελλάδα", "ελλαδα");
        same("ёлка", "елка");
        // Letters without a decomposition fold as Lucene's ASCIIFoldingFilter
        // folds them (issue 19).
        check("Łódź Ørsted đ æ", &["lodz", "orsted", "d", "ae"]);
        for (a, b) in [
            ("Łódź", "Lodz"),
            ("Əliyev", "Aliyev"),
            ("Støre", "Store"),
            ("Đukanović", "Djukanovic".replace("Dj", "D").as_str()),
            ("Æther", "Aether"),
            ("Œuvre", "oeuvre"),
            ("Þór", "Thor"),
            ("Ħamrun", "Hamrun"),
            ("ÐAVID", "david"),
        ] {
            same(a, b);
        }
        // Urdu letters as Lucene's Persian filter folds them.
        same("پاکستانے", "پاکستانی");
        same("ہمارا", "همارا");
    }

    #[test]
    fn arabic_tashkeel_removed() {
        check("اسْتِفْتَاء كردستان", &["استفتاء", "کردستان"]);
        same("اسْتِفْتَاء", "استفتاء");
        same("مُحَمَّدٌ", "محمد");
        same("الرَّحْمٰنِ", "الرحمن");
        same("إِقْلِيمُ", "اقلیم");
    }

    #[test]
    fn tatweel_removed() {
        same("كـــردستان", "کردستان");
        check("ـ", &[]);
        same("ـكرد", "کرد");
    }

    #[test]
    fn arabic_script_variants_unified() {
        // Arabic kaf and yeh are the Persian letters.
        same("كردستان", "کردستان");
        same("باقري", "باقری");
        same("مستشفى", "مستشفی");
        // Alef variants.
        same("أكار", "اکار");
        same("إقليم", "اقلیم");
        same("آکار", "اکار");
        same("ٱلله", "الله");
        // Teh marbuta and heh with yeh above are heh.
        same("الحكومة", "الحکومه");
        same("خانۀ", "خانه");
        // Heh doachashmee (Sorani h) is heh.
        same("ھەولێر", "هەولێر");
        // NFKC joins ي + hamza into ئ; the same after ی.
        same("\u{064A}\u{0654}", "ئ");
        same("\u{06CC}\u{0654}", "ئ");
        same("ه\u{0654}", "ه");
        // Hamza on yeh and waw stay letters of their own.
        differ("ئاکار", "یاکار");
        differ("مؤتمر", "موتمر");
        check("سماء", &["سماء"]);
    }

    #[test]
    fn digits_unified() {
        check("۲۰۱۷ ٢٠١٧ ２０１７ 2017", &["2017", "2017", "2017", "2017"]);
        check("۱۳۹۶/۰۷/۰۳", &["1396", "07", "03"]);
        same("٢٥ أيلول", "25 ایلول");
        // The Arabic decimal and thousands separators split numbers.
        check("٣٫٥ ١٬٠٠٠", &["3", "5", "1", "000"]);
    }

    #[test]
    fn joiners_split_words() {
        check("همه‌پرسی استقلال", &["همه", "پرسی", "استقلال"]);
        check("می‌خواهند", &["می", "خواهند"]);
        // ZWJ, word joiner and BOM are dropped inside a word (issue 19, as
        // ICU); zero width space is a word boundary (UAX #29).
        check("a\u{200D}b a\u{2060}b a\u{FEFF}b", &["ab", "ab", "ab"]);
        same("Kurdi\u{200D}stan", "Kurdistan");
        same("\u{FEFF}Kurdistan", "Kurdistan");
        check("a\u{200B}b", &["a", "b"]);
        check("\u{200C}", &[]);
        check("\u{200C}کرد\u{200C}", &["کرد"]);
    }

    #[test]
    fn soft_hyphen_and_bidi_controls_removed_without_splitting() {
        check("refer\u{AD}endum", &["referendum"]);
        check("\u{AD}", &[]);
        same("کورد\u{200F}ستان", "کوردستان");
        check("\u{202B}IKBY\u{202C} \u{2067}کرد\u{2069}", &["ikby", "کرد"]);
        check("\u{200E}\u{200F}\u{061C}", &[]);
    }

    #[test]
    fn apostrophes_split_words() {
        check("Kurdistan's vote", &["kurdistan", "s", "vote"]);
        check("Kurdistan’s vote", &["kurdistan", "s", "vote"]);
        check(
            "Kurdistan‘s Kurdistanʼs Kurdistan＇s",
            &["kurdistan", "s", "kurdistan", "s", "kurdistan", "s"],
        );
        check("IKBY'nin", &["ikby", "nin"]);
        check("IKBY’nin Türkiye'ye", &["ikby", "nin", "turkiye", "ye"]);
        // The ʻokina is a letter.
        check("Hawaiʻi", &["hawaiʻi"]);
    }

    #[test]
    fn persian_words() {
        check(
            "دولت وزیر امنیت مرز همکاری نظامی رئیس جمهور",
            &["دولت", "وزیر", "امنیت", "مرز", "همکاری", "نظامی", "رئیس", "جمهور"],
        );
        same("همه\u{200C}پرسی", "همه پرسی");
        same("سرلشکر باقری و ژنرال آکار", "سرلشكر باقري و ژنرال اکار");
        differ("کرد", "کردها");
    }

    #[test]
    fn arabic_words() {
        same("استفتاء استقلال كردستان", "استفتاء استقلال کردستان");
        same("الاستفتاء في إقليم كردستان", "الاستفتاء فی اقلیم کردستان");
        check("باقري وأكار", &["باقری", "واکار"]);
        differ("الاستفتاء", "استفتاء");
    }

    #[test]
    fn sorani_letters_survive() {
        check("ڕیفراندۆمی سەربەخۆیی", &["ڕیفراندۆمی", "سەربەخۆیی"]);
        check(
            "ڕ ۆ ێ ە ڵ ڤ گ چ پ ژ ئ",
            &["ڕ", "ۆ", "ێ", "ە", "ڵ", "ڤ", "گ", "چ", "پ", "ژ", "ئ"],
        );
        check(
            "حکومەت وەزیر ئاسایش هەڵبژاردن",
            &["حکومەت", "وەزیر", "ئاسایش", "هەڵبژاردن"],
        );
        differ("ە", "ه");
        differ("حکومەت", "حکومهت");
        differ("ڕ", "ر");
        differ("ۆ", "و");
        differ("ێ", "ی");
        differ("ڵ", "ل");
        same("باقری و ئاکار", "باقري و ئاكار");
    }

    #[test]
    fn no_stemming() {
        differ("referendums", "referendum");
        differ("Kurds", "Kurdistan");
        differ("referandumu", "referandum");
        check("Kurds", &["kurds"]);
    }

    #[test]
    fn uax29_boundaries() {
        // Ideographs are one word each; kana runs are words.
        check("库尔德斯坦", &["库", "尔", "德", "斯", "坦"]);
        check("abc中文", &["abc", "中", "文"]);
        check("カタカナabc", &["カタカナ", "abc"]);
        // Hindi keeps its vowel signs and virama inside words.
        check("क्षेत्र", &["क्षेत्र"]);
        // Emoji are not words, nor their joiners.
        check("👨\u{200D}👩\u{200D}👧 kurd🇮🇶", &["kurd"]);
    }

    #[test]
    fn fold_keeps_separators() {
        assert_eq!(fold("Hulusi AKAR"), "hulusi akar");
        assert_eq!(fold("İzmir"), words("İzmir")[0]);
        assert_eq!(fold("Kürdistan's, IKBY'nin"), "kurdistan's, ikby'nin");
        assert_eq!(fold("همه‌پرسی اسْتِفْتَاء"), "همه‌پرسی استفتاء");
        assert_eq!(fold("Apple™"), "apple™");
        assert_eq!(fold("refer\u{AD}endum"), "referendum");
    }

    const NASTY: &[&str] = &[
        "",
        " ",
        "\u{301}",
        "\u{301}\u{301}abc",
        "\u{654}",
        "\u{64E}\u{650}",
        "\u{200C}",
        "\u{200C}\u{200C}\u{200D}",
        "\u{200D}",
        "\u{AD}\u{AD}",
        "👨\u{200D}👩\u{200D}👧\u{200D}👦",
        "\u{200F}\u{202E}abc\u{202C}",
        "\u{FEFF}word",
        "e\u{301}\u{302}\u{303}\u{304}\u{305}\u{306}\u{307}\u{308}\u{309}",
        "ᄀ\u{1161}\u{11A8}",
        "\u{1100}\u{1100}\u{1161}",
        "=\u{338}abc",
        "a\u{338}",
        "ﷺﷻ﷽",
        "ŉ ǅ ǈ ﬀ ẛ̣",
        "\u{FFFD}\u{10FFFF}\u{E000}",
        "ا\u{653}\u{654}\u{655}",
        "ی\u{650}\u{654}",
        "ـــ",
        "Ω Å K ẞ ſ",
        "\u{0345}\u{0344}",
        "'’‘ʼ",
        "a'b’c‘dʼe",
        "U.S.A. e.g. 3.14.15",
        "\u{0600}\u{06DD}١",
        "क्\u{200D}ष",
        "ภาษาไทย",
        "\u{1F1EE}\u{1F1F6}",
    ];

    #[test]
    fn nasty_inputs_do_not_panic_and_are_consistent() {
        for input in NASTY {
            let w = words(input);
            let spans = word_spans(input);
            assert_eq!(
                spans.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>(),
                w,
                "{input:?}"
            );
            for (range, word) in &spans {
                assert!(
                    input.get(range.clone()).is_some(),
                    "{input:?}: {range:?} for {word:?}"
                );
                assert!(!word.is_empty());
                assert!(word.chars().any(char::is_alphanumeric), "{input:?}: {word:?}");
            }
            assert_eq!(words(&fold(input)), w, "words(fold({input:?}))");
            for word in &w {
                assert_eq!(
                    &words(word),
                    std::slice::from_ref(word),
                    "{input:?}: {word:?} is stable"
                );
            }
        }
    }

    #[test]
    fn huge_single_word() {
        let word = "kurdistan".repeat(1 << 17);
        assert_eq!(words(&word), [word]);
        let word = "کوردستان".repeat(1 << 16);
        assert_eq!(words(&word), [word]);
        let marks = "\u{301}".repeat(1 << 19);
        assert!(words(&marks).is_empty());
        let mixed = "Ku\u{308}rdistan".repeat(1 << 16);
        assert_eq!(words(&mixed)[0].len(), "kurdistan".len() << 16);
    }

    /// Fuzzing (tests/fuzz, target `text`): a bidi control, soft hyphen or
    /// removed mark between two characters that compose left the folded
    /// word un-normalised (the three jamo of `한`), so it did not fold to
    /// itself and a query printed with it did not parse back the same.
    #[test]
    fn dropping_a_character_lets_its_neighbours_compose() {
        let composed = "\u{D55C}"; // 한
        for input in [
            "\u{1112}\u{2068}\u{1161}\u{11AB}",
            "\u{1112}\u{1161}\u{AD}\u{11AB}",
            "\u{1112}\u{200F}\u{1161}\u{11AB}",
        ] {
            check(input, &[composed]);
            let spans = word_spans(input);
            assert_eq!(spans, [(0..input.len(), composed.to_string())], "{input:?}");
        }
        // Bengali o: U+09C7 U+09BE compose to U+09CB once the acute between
        // them is removed (rule 5).
        check("\u{995}\u{9C7}\u{301}\u{9BE}", &["\u{995}\u{9CB}"]);
        // The word found by the fuzzer.
        let input = "中悫ナoaUUUUUUUUUUHNRDİST\0\0\0\0\0\0\0ᄒ\u{2068}ᅡᆫ";
        for word in words(input) {
            assert_eq!(words(&word), std::slice::from_ref(&word), "{input:?}");
        }
    }

    #[test]
    fn word_spans_slice_the_original() {
        let input =
            "  KÜRDİSTAN'ın «همه‌پرسی» اسْتِفْتَاء كـردستان, Ku\u{308}rdistan refer\u{AD}endum ＫＲＧ ﷺ e\u{301} ";
        let spans = word_spans(input);
        let got: Vec<(&str, &str)> = spans
            .iter()
            .map(|(r, w)| (&input[r.clone()], w.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("KÜRDİSTAN", "kurdistan"),
                ("ın", "in"),
                ("همه", "همه"),
                ("پرسی", "پرسی"),
                ("اسْتِفْتَاء", "استفتاء"),
                ("كـردستان", "کردستان"),
                ("Ku\u{308}rdistan", "kurdistan"),
                ("refer\u{AD}endum", "referendum"),
                ("ＫＲＧ", "krg"),
                ("ﷺ", "صلی"),
                ("ﷺ", "الله"),
                ("ﷺ", "علیه"),
                ("ﷺ", "وسلم"),
                ("e\u{301}", "e"),
            ]
        );
        assert_eq!(
            spans.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>(),
            words(input)
        );
    }

    #[test]
    fn piecewise_normalization_equals_nfkc() {
        let mut norm = Normalized::default();
        for input in NASTY.iter().chain(&[
            "ﻛﺮﺩ",
            "Ku\u{308}rdistan",
            "ᄒ\u{1161}\u{11AB}\u{1100}\u{1173}\u{11AF}",
        ]) {
            norm.fill(input, 0);
            assert_eq!(norm.text, input.nfkc().collect::<String>(), "{input:?}");
        }
    }

    #[test]
    fn arabic_table_matches_unicode() {
        for c in '\u{0600}'..='\u{06FF}' {
            let general = c.is_alphanumeric() || ucd::is_combining_mark(c) || c == '\u{061C}';
            assert_eq!(is_arabic_separator(c), !general, "U+{:04X}", c as u32);
            // Every mark of the block is removed, so `fold_arabic` can treat
            // the other characters as letters.
            if ucd::is_combining_mark(c) {
                assert!(is_removed_mark(c), "U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn joins_in_uax29_matches_the_segmenter() {
        let all = (0..=0x10FFFF).filter_map(char::from_u32);
        let mut bad = Vec::new();
        for c in all.filter(|&c| joins_in_uax29(c) && is_word_char(c)) {
            for (l, r) in [("a", "a"), ("1", "1"), ("\u{5D0}", "\u{5D0}")] {
                let s = format!("{l}{c}{r}");
                if s.split_word_bounds().count() != 1 {
                    bad.push(format!("U+{:04X} in {s:?}", c as u32));
                }
            }
        }
        assert!(bad.is_empty(), "{bad:#?}");
    }

    #[test]
    fn table_matches_uncached_functions() {
        for c in (0x80..0x800).filter_map(char::from_u32) {
            for before in ["", "ی", "a"] {
                let (mut cached, mut uncached) = (before.to_string(), before.to_string());
                assert_eq!(
                    fold_char(c, &mut cached),
                    fold_char_uncached(c, &mut uncached),
                    "U+{:04X}",
                    c as u32
                );
                assert_eq!(cached, uncached, "U+{:04X}", c as u32);
            }
            assert_eq!(is_word_char(c), is_word_char_uncached(c), "U+{:04X}", c as u32);
        }
    }

    /// `words` without the fast paths: every chunk normalised whole and
    /// segmented by UAX #29, every character folded without the table.
    fn reference_words(input: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut chunk = String::new();
        for c in input.chars().chain(std::iter::once(' ')) {
            if is_word_char_uncached(c) {
                chunk.push(c);
                continue;
            }
            let normalized: String = chunk.nfkc().collect();
            chunk.clear();
            for segment in normalized.split_word_bounds() {
                let mut word = String::new();
                let mut letter = false;
                for c in segment.chars().chain(std::iter::once(' ')) {
                    match fold_char_uncached(c, &mut word) {
                        Kind::Letter => letter = true,
                        Kind::KeptMark if word.chars().count() == 1 => word.clear(),
                        Kind::Separator => {
                            if letter {
                                renormalize(&mut word);
                                words.push(word.clone());
                            }
                            word.clear();
                            letter = false;
                        }
                        Kind::KeptMark | Kind::Mark | Kind::Invisible => {}
                    }
                }
            }
        }
        words
    }

    #[test]
    fn fast_paths_agree_with_the_reference_on_random_text() {
        let alphabet: Vec<char> = concat!(
            "aZk9I ",
            " .'-_=,",
            "üİıßẞéÅ",
            "\u{301}\u{308}\u{307}\u{338}\u{345}",
            "كيىأإآةۀھەئؤیکاهـ",
            "\u{654}\u{64E}\u{651}\u{670}",
            "٣۴٫",
            "\u{200C}\u{200D}\u{2060}\u{FEFF}\u{AD}\u{200F}\u{61C}",
            "ʼ’ʻ",
            "ﻛﷺ½²™ΩﬁＫ\u{A0}",
            "中カकष\u{94D}ᄀ\u{1161}\u{11A8}😀\u{FE0F}ภ\u{E31}",
        )
        .chars()
        .collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..5000 {
            let len = next(24);
            let input: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let expected = reference_words(&input);
            assert_eq!(words(&input), expected, "words({input:?})");
            // Elsewhere, dropping a tatweel between two katakana or a mark
            // between two conjoining jamo changes segmentation.
            if input.chars().all(|c| !is_word_char(c) || joins_in_uax29(c)) {
                assert_eq!(words(&fold(&input)), expected, "words(fold({input:?}))");
            }
            for (range, word) in word_spans(&input) {
                let original = input.get(range.clone()).expect("char boundaries");
                assert!(
                    words(original).contains(&word),
                    "{input:?}: {range:?} = {original:?} does not fold to {word:?}"
                );
            }
        }
    }
}
