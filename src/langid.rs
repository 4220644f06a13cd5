//! Which language an item is written in, from its title and text (pure, no
//! IO): a BCP 47 primary subtag (`en`, `fa`, `ar`, `tr`, `ckb`, `kmr`, …)
//! for the item's `lang`, with the feed's declared tag as a prior.
//!
//! The rules, in order (measured in BENCHMARKS.md, "Language
//! identification"):
//!
//! 1. A `[[feed]] lang` set in the config is the item's language; nothing
//!    below runs (the pipeline applies it, see [`identify`]'s callers).
//! 2. Only the title and the first [`SAMPLE_CHARS`] characters of the text
//!    are looked at; with fewer than [`MIN_LETTERS`] letters there is no
//!    evidence and the declared tag stands.
//! 3. The script with the most letters decides which languages compete.
//!    - **Arabic script**: letters that only some of the languages use
//!      decide first. Sorani (`ckb`): `ڕ ڵ ێ ۆ ە`, which Persian and Arabic
//!      do not use, at least 2 % of the letters (or any one of them when
//!      the feed declares `ckb` or `ku`). Urdu (`ur`): `ے ں ٹ ڈ ڑ ہ`, at
//!      least 2 %. Persian (`fa`) against Arabic (`ar`): Persian's
//!      `پ چ ژ گ ی ک` against Arabic's `ي ك ة ى`; where both or neither
//!      occur, whatlang (Persian, Arabic, Urdu) decides. A feed declared
//!      `ckb` or `ku` whose item is short (under [`CLEAR_LETTERS`] letters)
//!      and shows no Sorani letter is still `ckb`, unless Arabic's own
//!      letters say Arabic: short Sorani headlines often have none of its
//!      letters, while a long text in Sorani always has some.
//!    - **Latin script**: Azerbaijani (`az`) by `ə`; Kurmanji (`kmr`), which
//!      no crate knows, by its function words (`û`, `ji`, `li`, `di`, `jî`,
//!      `ku`, …: at least 8 % of the words) or by `ê î û` without Turkish's
//!      `ı ğ` or French accents (at least 2 % of the letters); Turkish by
//!      `ı ğ İ` (at least two, 1 % of the letters); text all in ASCII whose
//!      English function words (`the`, `of`, …) are at least as many as
//!      those of Turkish, French, German, Spanish, Italian, Portuguese or
//!      Dutch is English (also when it has none: Latin-rooted headlines,
//!      `Inflation budget project negotiations`, which whatlang takes for
//!      French or Spanish). Only the rest goes to whatlang over those eight
//!      languages, and a language other than English or Turkish is taken
//!      only when its own function words (`le`, `der`, `el`, …) outnumber
//!      English's; Turkish needs `ı ğ ş ç ö ü` unless whatlang is sure;
//!      otherwise English or Turkish as whatlang decides between the two.
//!    - **Other scripts** (Cyrillic, Greek, Hebrew, CJK, …): whatlang over
//!      all its languages.
//! 4. A guess the rules are not sure of (whatlang not reliable, no function
//!    words), on a short text (under
//!    [`CLEAR_LETTERS`] letters), gives way to a declared tag of the same
//!    script: a headline alone is weak evidence against what the feed says.
//!    Without a declared tag the best guess is kept.
//! 5. A declared tag of a language these rules never give (`pl`, `sv`, …)
//!    stands whenever its script is the text's script: identification
//!    cannot contradict what it does not know.
//!
//! The result is lower case and has no region (`en`, not `en-US`): items
//! are grouped and filtered by it (`lang:`, `--lang`, stories, stats). The
//! feed's own tag is kept beside it as `declared_lang`.

use std::sync::LazyLock;

use whatlang::{Detector, Lang};

/// Characters of the text read after the title: language shows in the
/// first sentences, and the cost is linear in the length.
pub const SAMPLE_CHARS: usize = 300;
/// Fewer letters than this is no evidence.
pub const MIN_LETTERS: usize = 4;
/// Letters from which a text speaks for itself against the declared tag.
pub const CLEAR_LETTERS: usize = 120;

/// The language of an item with title `title` and text `text`, from a feed
/// that declares `declared` (a language tag, any case, with or without a
/// region). `None` when neither the text nor the declaration tells.
pub fn identify(title: &str, text: &str, declared: Option<&str>) -> Option<String> {
    let declared = declared
        .map(crate::model::primary_language)
        .filter(|d| !d.is_empty());
    let sample = sample(title, text);
    let counts = Counts::of(&sample);
    let script = counts.script();
    let guess = match script {
        Script::None => None,
        Script::Arabic => Some(arabic_script(&sample, &counts, declared.as_deref())),
        Script::Latin => Some(latin_script(&sample, &counts, declared.as_deref())),
        Script::Other => other_script(&sample),
    };
    let declared_script = declared.as_deref().map(script_of_language);
    match guess {
        None => declared,
        // A declared language of this script that the rules cannot give.
        Some(_)
            if declared_script == Some(script)
                && script != Script::Other
                && !knows(declared.as_deref(), script) =>
        {
            declared
        }
        Some(guess) if !guess.sure && counts.letters < CLEAR_LETTERS && declared_script == Some(script) => {
            declared
        }
        Some(guess) => Some(guess.lang.to_string()),
    }
}

/// A language the rules gave, and whether they are sure of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Guess {
    lang: &'static str,
    sure: bool,
}

impl Guess {
    fn sure(lang: &'static str) -> Self {
        Guess { lang, sure: true }
    }
}

/// The title and the start of the text, on a character boundary.
fn sample(title: &str, text: &str) -> String {
    let end = text
        .char_indices()
        .nth(SAMPLE_CHARS)
        .map_or(text.len(), |(i, _)| i);
    let mut sample = String::with_capacity(title.len() + 1 + end);
    sample.push_str(title);
    sample.push('\n');
    sample.push_str(&text[..end]);
    sample
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    None,
    Arabic,
    Latin,
    Other,
}

/// Letters of the languages a script's rules give.
const ARABIC_SCRIPT_LANGUAGES: &[&str] = &["ar", "fa", "ur", "ckb"];
const LATIN_SCRIPT_LANGUAGES: &[&str] = &["en", "tr", "kmr", "az", "fr", "de", "es", "it", "pt", "nl"];
/// Declared tags that mean "some Kurdish": the script tells which.
const KURDISH: &[&str] = &["ku", "ckb", "kmr", "sdh"];
/// Other Arabic-script and Latin-script languages, to tell that a declared
/// tag is of the text's script.
const OTHER_ARABIC_SCRIPT: &[&str] = &["ps", "sd", "ug", "ks", "pnb", "bal", "glk", "mzn", "lrc"];

fn knows(declared: Option<&str>, script: Script) -> bool {
    let Some(declared) = declared else { return true };
    match script {
        Script::Arabic => ARABIC_SCRIPT_LANGUAGES.contains(&declared) || KURDISH.contains(&declared),
        Script::Latin => LATIN_SCRIPT_LANGUAGES.contains(&declared) || KURDISH.contains(&declared),
        _ => true,
    }
}

/// The script a declared language is written in (as far as these rules
/// care): Latin for languages not known to be written otherwise.
fn script_of_language(lang: &str) -> Script {
    const OTHER: &[&str] = &[
        "ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "tg", "mn", "el", "he", "yi", "hy", "ka", "zh", "ja",
        "ko", "hi", "mr", "ne", "bn", "pa", "gu", "ta", "te", "kn", "ml", "si", "th", "lo", "km", "my", "am",
    ];
    if ARABIC_SCRIPT_LANGUAGES.contains(&lang) || OTHER_ARABIC_SCRIPT.contains(&lang) {
        Script::Arabic
    } else if OTHER.contains(&lang) {
        Script::Other
    } else if KURDISH.contains(&lang) {
        // `ku` is either; the rules below read the declaration themselves.
        Script::None
    } else {
        Script::Latin
    }
}

/// Letter counts of a sample, in one pass.
#[derive(Debug, Default)]
struct Counts {
    letters: usize,
    arabic: usize,
    latin: usize,
    /// Latin letters in ASCII.
    ascii: usize,
    /// `ڕ ڵ ێ ۆ ە`: Sorani, not Persian or Arabic.
    sorani: usize,
    /// `ے ں ٹ ڈ ڑ ہ ۓ`: Urdu.
    urdu: usize,
    /// `پ چ ژ گ ی ک`: Persian (also Urdu and Sorani), not Arabic.
    persian: usize,
    /// `ي ك ة ى`: Arabic, not Persian.
    arabic_only: usize,
    /// `ı ğ İ`: Turkish (and Azerbaijani), not Kurmanji.
    turkish: usize,
    /// `ı ğ İ ş ç ö ü`: Turkish text without any is rarely Turkish.
    turkish_letters: usize,
    /// `ê î û`: Kurmanji (also French and Portuguese).
    kurmanji: usize,
    /// `é è à ù â ô ë ï œ ã õ á í ó ñ`: French, Portuguese, Spanish…, not Kurmanji.
    romance: usize,
    /// `ə`: Azerbaijani.
    schwa: usize,
}

impl Counts {
    fn of(sample: &str) -> Self {
        let mut c = Counts::default();
        for ch in sample.chars() {
            if !ch.is_alphabetic() {
                continue;
            }
            c.letters += 1;
            match ch {
                '\u{0600}'..='\u{06FF}'
                | '\u{0750}'..='\u{077F}'
                | '\u{FB50}'..='\u{FDFF}'
                | '\u{FE70}'..='\u{FEFF}' => {
                    c.arabic += 1;
                    match ch {
                        'ڕ' | 'ڵ' | 'ێ' | 'ۆ' | 'ە' => c.sorani += 1,
                        'ے' | 'ں' | 'ٹ' | 'ڈ' | 'ڑ' | 'ہ' | 'ۓ' => c.urdu += 1,
                        'پ' | 'چ' | 'ژ' | 'گ' | 'ی' | 'ک' => c.persian += 1,
                        'ي' | 'ك' | 'ة' | 'ى' => c.arabic_only += 1,
                        _ => {}
                    }
                }
                'a'..='z'
                | 'A'..='Z'
                | '\u{00C0}'..='\u{024F}'
                | '\u{0250}'..='\u{02AF}'
                | '\u{1E00}'..='\u{1EFF}' => {
                    c.latin += 1;
                    c.ascii += usize::from(ch.is_ascii());
                    match ch {
                        'ı' | 'ğ' | 'Ğ' | 'İ' => {
                            c.turkish += 1;
                            c.turkish_letters += 1;
                        }
                        // And `ý þ ð`: Turkish decoded as Latin-1 (ı ş ğ).
                        'ş' | 'Ş' | 'ç' | 'Ç' | 'ö' | 'Ö' | 'ü' | 'Ü' | 'ý' | 'þ' | 'ð' | 'Ý' | 'Þ' => {
                            c.turkish_letters += 1
                        }
                        'ê' | 'î' | 'û' | 'Ê' | 'Î' | 'Û' => c.kurmanji += 1,
                        'é' | 'è' | 'à' | 'ù' | 'â' | 'ô' | 'ë' | 'ï' | 'œ' | 'ã' | 'õ' | 'á' | 'í' | 'ó'
                        | 'ñ' | 'É' | 'È' | 'À' => c.romance += 1,
                        'ə' | 'Ə' => c.schwa += 1,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        c
    }

    fn script(&self) -> Script {
        if self.letters < MIN_LETTERS {
            Script::None
        } else if self.arabic * 2 > self.letters {
            Script::Arabic
        } else if self.latin * 2 > self.letters {
            Script::Latin
        } else {
            Script::Other
        }
    }
}

/// `part` is at least `percent` % of `whole`.
fn share(part: usize, whole: usize, percent: usize) -> bool {
    part * 100 >= whole * percent
}

fn arabic_script(sample: &str, c: &Counts, declared: Option<&str>) -> Guess {
    let kurdish_feed = declared.is_some_and(|d| KURDISH.contains(&d));
    if c.sorani > 0 && (kurdish_feed || share(c.sorani, c.arabic, 2)) {
        return Guess::sure("ckb");
    }
    if kurdish_feed && c.arabic < CLEAR_LETTERS && c.arabic_only == 0 {
        return Guess::sure("ckb");
    }
    if c.urdu >= 2 && share(c.urdu, c.arabic, 2) {
        return Guess::sure("ur");
    }
    if c.persian > 0 && c.arabic_only == 0 {
        return Guess::sure("fa");
    }
    if c.arabic_only > 0 && c.persian == 0 {
        return Guess::sure("ar");
    }
    static DETECTOR: LazyLock<Detector> =
        LazyLock::new(|| Detector::with_allowlist(vec![Lang::Pes, Lang::Ara, Lang::Urd]));
    match DETECTOR.detect(sample) {
        Some(info) => Guess {
            lang: tag(info.lang()),
            sure: info.is_reliable(),
        },
        None if c.persian > c.arabic_only => Guess {
            lang: "fa",
            sure: false,
        },
        None => Guess {
            lang: "ar",
            sure: false,
        },
    }
}

/// Frequent Kurmanji words that are not words of English or Turkish
/// (`de`, `da`, `ya`, `ve`, `ne`, `kes` are left out for that reason).
const KURMANJI_WORDS: &[&str] = &[
    "û", "li", "bi", "ji", "ku", "di", "xwe", "jî", "bo", "wê", "kir", "vê", "ber", "yên", "hate", "wan",
    "kirin", "re", "ew", "yê", "ev", "wî", "bû", "lê", "divê", "dike", "dikin", "hemû", "wiha", "ên",
    "hatin", "tê", "piştî", "bikin", "navê", "nava", "yek", "heta", "bûn", "niha", "dibe", "hatiye", "got",
    "gotin",
];
const ENGLISH_WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "on", "for", "with", "that", "was", "by", "from", "at", "as",
    "said",
];
/// Function words of the Latin-script languages other than English and
/// Turkish, for checking whatlang's choice of them.
const FUNCTION_WORDS: &[(&str, &[&str])] = &[
    (
        "fr",
        &[
            "le", "la", "les", "des", "et", "du", "une", "est", "dans", "pour", "au", "sur", "qui", "pas",
            "avec",
        ],
    ),
    (
        "de",
        &[
            "der", "die", "das", "und", "den", "ist", "nicht", "mit", "von", "sich", "des", "auf", "dem",
            "ein", "eine",
        ],
    ),
    (
        "es",
        &[
            "el", "los", "las", "del", "y", "que", "por", "una", "con", "para", "es", "se", "al", "lo",
            "como",
        ],
    ),
    (
        "it",
        &[
            "il", "della", "che", "di", "e", "per", "una", "del", "non", "sono", "alla", "gli", "con", "si",
            "nel",
        ],
    ),
    (
        "pt",
        &[
            "o", "os", "da", "do", "que", "e", "em", "para", "com", "uma", "não", "dos", "das", "ao", "no",
        ],
    ),
    (
        "nl",
        &[
            "de", "het", "een", "van", "en", "is", "dat", "op", "niet", "zijn", "met", "voor", "ook", "aan",
            "bij",
        ],
    ),
];

/// Indexes of [`word_counts`]: Kurmanji, English, Turkish, then
/// [`FUNCTION_WORDS`] in order.
const KURMANJI: usize = 0;
const ENGLISH: usize = 1;
const TURKISH: usize = 2;
const TURKISH_WORDS: &[&str] = &[
    "ve", "bir", "bu", "için", "ile", "olarak", "olan", "çok", "daha", "gibi", "kadar", "sonra", "ama",
    "değil",
];

/// How many words of `sample` are in each word list (by the indexes
/// above), and how many words it has, in one pass.
fn word_counts(sample: &str) -> ([usize; 3 + FUNCTION_WORDS.len()], usize) {
    let mut lists: [&[&str]; 3 + FUNCTION_WORDS.len()] = [&[]; 3 + FUNCTION_WORDS.len()];
    lists[KURMANJI] = KURMANJI_WORDS;
    lists[ENGLISH] = ENGLISH_WORDS;
    lists[TURKISH] = TURKISH_WORDS;
    for (i, (_, list)) in FUNCTION_WORDS.iter().enumerate() {
        lists[3 + i] = list;
    }
    let mut found = [0; 3 + FUNCTION_WORDS.len()];
    let mut lower = String::new();
    let mut words = 0;
    for word in sample
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        words += 1;
        let word = if word.chars().any(char::is_uppercase) {
            lower.clear();
            lower.extend(word.chars().flat_map(char::to_lowercase));
            lower.as_str()
        } else {
            word
        };
        for (count, list) in found.iter_mut().zip(lists) {
            *count += usize::from(list.contains(&word));
        }
    }
    (found, words)
}

fn latin_script(sample: &str, c: &Counts, declared: Option<&str>) -> Guess {
    if c.schwa >= 1 && share(c.schwa, c.latin, 1) {
        return Guess::sure("az");
    }
    let kurdish_feed = declared.is_some_and(|d| KURDISH.contains(&d));
    let (found, words) = word_counts(sample);
    let kurmanji_words = found[KURMANJI];
    let kurmanji_letters = c.kurmanji > 0 && c.turkish == 0 && c.romance * 2 <= c.kurmanji;
    if (kurmanji_words >= 2 && share(kurmanji_words, words, 8) && c.turkish <= 1)
        || (kurmanji_letters && share(c.kurmanji, c.latin, if kurdish_feed { 0 } else { 2 }))
        || (kurdish_feed && kurmanji_words >= 1)
    {
        return Guess::sure("kmr");
    }
    // The common cases without whatlang (most of the cost): Turkish by
    // its own letters, and plain ASCII text whose function words are
    // English's, or that has none of any language (Latin-rooted headlines).
    if c.turkish >= 2 && share(c.turkish, c.latin, 1) {
        return Guess::sure("tr");
    }
    let others = found[TURKISH..].iter().copied().max().unwrap_or(0);
    if c.latin == c.ascii && others <= found[ENGLISH] {
        return Guess {
            lang: "en",
            sure: found[ENGLISH] >= 2,
        };
    }
    static LATIN: LazyLock<Detector> = LazyLock::new(|| {
        Detector::with_allowlist(vec![
            Lang::Eng,
            Lang::Tur,
            Lang::Fra,
            Lang::Deu,
            Lang::Spa,
            Lang::Ita,
            Lang::Por,
            Lang::Nld,
        ])
    });
    static CORE: LazyLock<Detector> = LazyLock::new(|| Detector::with_allowlist(vec![Lang::Eng, Lang::Tur]));
    if let Some(info) = LATIN.detect(sample) {
        let lang = tag(info.lang());
        if lang == "en" || (lang == "tr" && (c.turkish_letters > 0 || info.is_reliable())) {
            return Guess {
                lang,
                sure: info.is_reliable(),
            };
        }
        let own = FUNCTION_WORDS
            .iter()
            .position(|(l, _)| *l == lang)
            .map_or(0, |i| found[3 + i]);
        if own >= 2 && own > found[ENGLISH] {
            return Guess {
                lang,
                sure: info.is_reliable(),
            };
        }
    }
    // Turkish without any of its letters is English written plainly.
    match CORE.detect(sample) {
        Some(info) if info.lang() == Lang::Tur && (c.turkish_letters > 0 || info.is_reliable()) => Guess {
            lang: "tr",
            sure: false,
        },
        None if c.turkish_letters > 0 => Guess {
            lang: "tr",
            sure: false,
        },
        _ => Guess {
            lang: "en",
            sure: false,
        },
    }
}

fn other_script(sample: &str) -> Option<Guess> {
    let info = whatlang::detect(sample)?;
    Some(Guess {
        lang: tag(info.lang()),
        sure: info.is_reliable(),
    })
}

/// whatlang's ISO 639-3 code as a BCP 47 primary subtag: the two-letter
/// code where there is one.
fn tag(lang: Lang) -> &'static str {
    match lang {
        Lang::Eng => "en",
        Lang::Pes => "fa",
        Lang::Ara => "ar",
        Lang::Tur => "tr",
        Lang::Urd => "ur",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Spa => "es",
        Lang::Ita => "it",
        Lang::Por => "pt",
        Lang::Nld => "nl",
        Lang::Rus => "ru",
        Lang::Ukr => "uk",
        Lang::Bel => "be",
        Lang::Bul => "bg",
        Lang::Mkd => "mk",
        Lang::Srp => "sr",
        Lang::Ell => "el",
        Lang::Heb => "he",
        Lang::Yid => "yi",
        Lang::Cmn => "zh",
        Lang::Jpn => "ja",
        Lang::Kor => "ko",
        Lang::Hin => "hi",
        Lang::Ben => "bn",
        Lang::Kat => "ka",
        Lang::Hye => "hy",
        Lang::Tha => "th",
        Lang::Aze => "az",
        Lang::Pol => "pl",
        other => other.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(title: &str, text: &str, declared: Option<&str>) -> String {
        identify(title, text, declared).unwrap_or_default()
    }

    #[test]
    fn persian_arabic_sorani_urdu_by_their_letters() {
        let fa = "سرلشکر باقری و ژنرال آکار درباره همه‌پرسی استقلال کردستان گفتگو کردند";
        let ar = "التقى رئيس الأركان الإيراني بنظيره التركي في طهران لبحث الاستفتاء في إقليم كردستان";
        let ckb = "سەرۆکی ئەرکانی سوپای ئێران و تورکیا دژی ڕیفراندۆمی سەربەخۆیی کوردستان وەستان";
        let ur = "ایران اور ترکی کے فوجی سربراہوں نے کردستان میں ریفرنڈم کی مخالفت کی ہے";
        for (text, lang) in [(fa, "fa"), (ar, "ar"), (ckb, "ckb"), (ur, "ur")] {
            assert_eq!(id(text, "", None), lang, "{text}");
            // Whatever the feed says.
            assert_eq!(id(text, "", Some("en")), lang, "{text}");
        }
    }

    #[test]
    fn kurdish_feeds_get_the_benefit_of_the_doubt() {
        // No Sorani letter, and no Arabic one: a short Sorani headline.
        let short = "کوردستان و بەغدا";
        assert_eq!(id(short, "", Some("ckb")), "ckb");
        assert_eq!(id("کوردستان و تورکیا", "", Some("ku")), "ckb");
        assert_eq!(id("کوردستان و تورکیا", "", None), "fa");
        // A long Persian text in a feed declared Kurdish is Persian.
        let persian = "سرلشکر باقری و ژنرال آکار درباره همه‌پرسی استقلال کردستان گفتگو کردند. ".repeat(4);
        assert_eq!(id("", &persian, Some("ckb")), "fa");
        // Kurmanji is Latin-script Kurdish.
        assert_eq!(
            id(
                "Serokê herêmê û Tirkiyê li ser referandûmê axivîn",
                "",
                Some("ku")
            ),
            "kmr"
        );
        assert_eq!(
            id("Serokê herêmê û Tirkiyê li ser referandûmê axivîn", "", None),
            "kmr"
        );
    }

    #[test]
    fn latin_languages() {
        assert_eq!(
            id(
                "Iran and Turkey oppose the Kurdistan referendum",
                "The top military commanders met in Tehran on Saturday.",
                None
            ),
            "en"
        );
        assert_eq!(id("Türkiye ve İran askeri işbirliğini artıracak", "", None), "tr");
        assert_eq!(id("Əliyev Bakıda görüşdü", "", None), "az");
        assert_eq!(
            id("", "Les chefs militaires de l'Iran et de la Turquie se sont opposés au référendum dans le Kurdistan irakien.", None),
            "fr"
        );
        // Latin-rooted English headlines are not French.
        assert_eq!(
            id("Inflation budget project negotiations culture", "", None),
            "en"
        );
    }

    #[test]
    fn short_or_unknown_falls_back_to_the_declaration() {
        assert_eq!(identify("", "", Some("en-US")), Some("en".into()));
        assert_eq!(identify("123", "", Some("fa_IR")), Some("fa".into()));
        assert_eq!(identify("", "", None), None);
        // A language the rules never give stands when the script agrees.
        assert_eq!(id("Prezydent spotkał się z ministrem", "", Some("pl")), "pl");
        // But not when the script does not.
        assert_eq!(id("سرلشکر باقری و ژنرال آکار", "", Some("pl")), "fa");
    }
}
