//! Throughput of `text::words` (fold + tokenize) on a multilingual corpus.
//!
//! Run with `cargo run --release --example fold_speed [MB]` (default 20 MB);
//! it prints MB/s (10^6 bytes of input per second, one thread, allocation of
//! the returned words included) for `words`, the old `words`, `word_spans`
//! and `fold`, then `words` per language. The corpus
//! imitates shared/feedfarm/generate.py: items of 6–12-word titles and 2–5
//! paragraphs of 25–60 words, in English (55% of items), Persian (15%),
//! Arabic (12%), Turkish (12%) and Sorani Kurdish (6%), 5% of them with a
//! planted topic phrase. It also times the implementation this replaced
//! (`old_words`, copied below) on the same corpus as a baseline.

use std::hint::black_box;
use std::time::Instant;

const EN: &str = "government officials said on the statement talks minister regional security border \
military cooperation economic trade agreement parliament election vote opposition \
president visit capital meeting delegation forces conflict ceasefire negotiations \
week spokesman reported according sources local council budget energy oil exports \
infrastructure project university hospital weather storm market prices inflation \
currency central bank court ruling investigation police protest football league \
season coach transfer festival culture museum exhibition film music";
const FA: &str =
    "دولت وزیر امنیت مرز همکاری نظامی اقتصادی مذاکرات رئیس جمهور سفر پارلمان انتخابات گزارش منابع";
const AR: &str =
    "الحكومة وزير الأمن الحدود التعاون العسكري الاقتصادي المفاوضات الرئيس زيارة البرلمان الانتخابات";
const TR: &str =
    "hükümet bakan güvenlik sınır işbirliği askeri ekonomik müzakere cumhurbaşkanı ziyaret meclis seçim";
const CKB: &str =
    "حکومەت وەزیر ئاسایش سنوور هاوکاری سەربازی ئابووری دانوستان سەرۆک سەردان پەرلەمان هەڵبژاردن";

const TOPICS: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "Kurdistan independence referendum",
            "referendum in Iraqi Kurdistan",
            "Kurdish referendum",
            "General Baqeri met General Hulusi Akar",
            "Bagheri and Akar agreed on border security",
        ],
    ),
    (
        "fa",
        &[
            "همه\u{200c}پرسی استقلال کردستان",
            "همه پرسی کردستان",
            "سرلشکر باقری و ژنرال آکار",
        ],
    ),
    (
        "ar",
        &[
            "استفتاء استقلال كردستان",
            "الاستفتاء في إقليم كردستان",
            "باقري وأكار",
        ],
    ),
    (
        "tr",
        &[
            "Kürdistan bağımsızlık referandumu",
            "IKBY referandumu",
            "Hulusi Akar ve Bakeri",
        ],
    ),
    ("ckb", &["ڕیفراندۆمی سەربەخۆیی کوردستان", "باقری و ئاکار"]),
];

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
}

fn sentence(rng: &mut Rng, vocab: &[&str], lo: usize, hi: usize) -> String {
    let n = rng.range(lo, hi);
    let mut s = String::new();
    for i in 0..n {
        let w = vocab[rng.below(vocab.len())];
        if i == 0 {
            // Capitalised like Python's str.capitalize (a no-op for Arabic script).
            let mut cs = w.chars();
            let first = cs.next().unwrap();
            s.extend(first.to_uppercase());
            s.push_str(cs.as_str());
        } else {
            s.push(' ');
            s.push_str(w);
        }
    }
    s
}

/// Items as (language, title, text) totalling at least `bytes`.
fn corpus(bytes: usize) -> Vec<(&'static str, String, String)> {
    let langs: [(&str, &str, u64); 5] = [
        ("en", EN, 55),
        ("fa", FA, 15),
        ("ar", AR, 12),
        ("tr", TR, 12),
        ("ckb", CKB, 6),
    ];
    let vocabs: Vec<(&'static str, Vec<&str>, u64)> = langs
        .iter()
        .map(|(l, v, w)| (*l, v.split_whitespace().collect(), *w))
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut items = Vec::new();
    let mut total = 0;
    while total < bytes {
        let mut pick = rng.below(100) as u64;
        let (lang, vocab, _) = vocabs
            .iter()
            .find(|(_, _, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .unwrap();
        let mut title = sentence(&mut rng, vocab, 6, 12);
        let mut paras: Vec<String> = (0..rng.range(2, 5))
            .map(|_| sentence(&mut rng, vocab, 25, 60) + ".")
            .collect();
        if rng.below(100) < 5 {
            let phrases = TOPICS.iter().find(|(l, _)| l == lang).unwrap().1;
            let phrase = phrases[rng.below(phrases.len())];
            if rng.below(10) < 3 {
                title = format!("{title} {phrase}");
            } else {
                let n = paras.len();
                let p = &mut paras[rng.below(n)];
                p.push(' ');
                p.push_str(phrase);
                p.push('.');
            }
        }
        // Paragraphs as the HTML-to-text step joins them.
        let text = paras.join("\n\n");
        total += title.len() + text.len();
        items.push((*lang, title, text));
    }
    items
}

/// The implementation of `text::words` before the rewrite, for a baseline.
fn old_words(input: &str) -> Vec<String> {
    fn push_folded(out: &mut String, c: char) {
        match c {
            'İ' | 'I' | 'ı' => out.push('i'),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
    fn is_combining_mark(c: char) -> bool {
        matches!(c,
            '\u{0300}'..='\u{036F}'
            | '\u{0610}'..='\u{061A}'
            | '\u{064B}'..='\u{065F}'
            | '\u{0670}'
            | '\u{06D6}'..='\u{06ED}')
    }
    let mut words = Vec::new();
    let mut current = String::new();
    for c in input.chars() {
        if c.is_alphanumeric() || is_combining_mark(c) {
            push_folded(&mut current, c);
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// MB/s (10^6 bytes) of running `f` over title and text of every item.
fn measure(items: &[(&str, String, String)], f: impl Fn(&str) -> usize) -> f64 {
    let bytes: usize = items.iter().map(|(_, t, x)| t.len() + x.len()).sum();
    let start = Instant::now();
    let mut n = 0;
    for (_, title, text) in items {
        n += f(black_box(title)) + f(black_box(text));
    }
    black_box(n);
    bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("MB"))
        .unwrap_or(20);
    let items = corpus(mb * 1_000_000);
    let bytes: usize = items.iter().map(|(_, t, x)| t.len() + x.len()).sum();
    let non_ascii: usize = items
        .iter()
        .flat_map(|(_, t, x)| [t, x])
        .map(|s| s.bytes().filter(|b| !b.is_ascii()).count())
        .sum();
    println!(
        "corpus: {} items, {:.1} MB, {:.0}% non-ASCII bytes",
        items.len(),
        bytes as f64 / 1e6,
        100.0 * non_ascii as f64 / bytes as f64
    );
    // Warm up (page in the corpus, grow allocator pools).
    measure(&items, |s| feedwatch::text::words(s).len());
    let new = measure(&items, |s| feedwatch::text::words(s).len());
    let old = measure(&items, |s| old_words(s).len());
    let spans = measure(&items, |s| feedwatch::text::word_spans(s).len());
    let fold = measure(&items, |s| feedwatch::text::fold(s).len());
    println!(
        "words: {new:.1} MB/s  old words: {old:.1} MB/s  ratio {:.2}  word_spans: {spans:.1} MB/s  fold: {fold:.1} MB/s",
        new / old
    );
    let per_lang: Vec<String> = ["en", "fa", "ar", "tr", "ckb"]
        .iter()
        .map(|lang| {
            let subset: Vec<_> = items.iter().filter(|i| i.0 == *lang).cloned().collect();
            let new = measure(&subset, |s| feedwatch::text::words(s).len());
            let old = measure(&subset, |s| old_words(s).len());
            format!("{lang} {new:.0} (old {old:.0})")
        })
        .collect();
    println!("words by language, MB/s: {}", per_lang.join(", "));
}
