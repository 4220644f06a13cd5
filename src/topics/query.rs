//! The topic query language: lexer, parser and syntax tree.
//!
//! Grammar (operators are upper-case; lower-case `and`/`or`/`not`/`near`
//! are ordinary words):
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*             adjacent terms mean AND
//! unary   := ("NOT" | "-") unary | near
//! near    := scoped ("NEAR/" n scoped)?
//! scoped  := ("title:" | "text:") scoped | primary
//! primary := "(" or ")" | "\"" phrase "\"" | word["*"] | "@" set
//!          | "lang:" code | "feed:" (name | "\"" name "\"")
//! ```
//!
//! Words and phrases are folded with [`crate::text`], the same function
//! applied to article text; a term that folds to several words (`U.S.`,
//! `Kurdistan's`) is matched as a phrase. A trailing `*` makes the last word
//! a prefix. Field scopes are pushed down onto the terms they cover at parse
//! time and term sets (`@name`) are expanded, so the tree holds only
//! [`Expr::Match`] leaves, filters and operators.
//!
//! A query is held to limits on its nesting ([`MAX_DEPTH`]), length
//! ([`MAX_QUERY_BYTES`]), words ([`MAX_TERMS`]), wildcards
//! ([`MAX_WILDCARDS`]) and `NEAR` width ([`MAX_NEAR_DISTANCE`]).

use std::collections::HashMap;
use std::fmt;

use crate::text;

/// Named term sets usable as `@name`: name → alternatives.
pub type TermSets = HashMap<String, Vec<String>>;

/// Shortest prefix a wildcard may have, in characters.
pub const MIN_PREFIX_CHARS: usize = 2;

// Limits on one query. The same limits apply to topics in the config and to
// queries from `feedwatch search`, `topics test` and `/api/items?q=`: they
// are far above what a topic needs (the topics of the example config and of
// the feed farm nest 2 levels deep and have at most 12 words and 3
// wildcards), so there is no second, looser set for the config. Each
// refusal is a `QueryError` naming the column and the limit.

/// Deepest nesting a query may have. Every `(`, `NOT` (or `-`) and field
/// scope (`title:`, `text:`) opens a level as the parser reads it, and the
/// parser refuses to open one more *before* it recurses, so reading a query
/// never takes more stack than this many levels (under 384 KiB in a debug
/// build, of a tokio worker's 2 MiB). Each AND, OR and NEAR counts too,
/// with or without its parentheses, because the tree is also held to this
/// depth as [`Expr`]'s `Display` prints it, fully parenthesised (`a OR b c`
/// prints as `(a OR (b AND c))`, two levels): every query the parser
/// accepts prints to one it accepts.
///
/// So every [`Expr`] the parser returns is at most `MAX_DEPTH` nodes deep,
/// and everything that walks one recursively is bounded by it: evaluation
/// (`Document::satisfies`), `Display`, [`Expr::is_positive`], the scope
/// push-down, the presearcher's anchors, `archive`'s `uses_feed`,
/// the store's full-text expression and dropping the boxed tree. (A tree built by hand
/// rather than parsed has no such bound.) No real query comes near.
pub const MAX_DEPTH: usize = 64;

/// Longest query, in bytes of UTF-8 (16 KiB). A long topic is a long OR of
/// names; one of that size belongs in a term set (`@name`), which is
/// expanded after this check and counts towards [`MAX_TERMS`] instead.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Most words a query may match, counted after term sets are expanded:
/// each word of a phrase counts, and every entry of a term set each time
/// the set is used. Every word is a full-text lookup in `search` and a
/// lookup per article in matching (a 5,000-word OR took 47 s and 433 MB in
/// an API search).
pub const MAX_TERMS: usize = 1000;

/// Most wildcard (prefix) words a query may have, counted after term sets
/// are expanded. A prefix reads every indexed word it covers, so each one
/// can cost a search many times what a word does (nine took 104 s in an
/// API search). This bounds how many there are, not what one costs.
pub const MAX_WILDCARDS: usize = 16;

/// Widest `NEAR/n`. The width does not change what a NEAR costs (the
/// evaluator compares the two sides' occurrences, full-text `NEAR` walks
/// their positions, whatever `n` is); the bound only refuses nonsense.
pub const MAX_NEAR_DISTANCE: u32 = 1000;

/// Where a match may occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Title or text (each on its own: a phrase never spans both).
    Any,
    Title,
    Text,
}

impl Field {
    /// Whether a match in field `index` (0 = title, 1 = text) counts.
    pub fn allows(self, index: usize) -> bool {
        match self {
            Field::Any => true,
            Field::Title => index == 0,
            Field::Text => index == 1,
        }
    }
}

/// One word of a phrase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// The folded word exactly.
    Word(String),
    /// Any folded word starting with this.
    Prefix(String),
}

impl Pattern {
    pub fn matches(&self, word: &str) -> bool {
        match self {
            Pattern::Word(w) => w == word,
            Pattern::Prefix(p) => word.starts_with(p.as_str()),
        }
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Consecutive words (one or more) in a field.
    Match {
        field: Field,
        words: Vec<Pattern>,
    },
    /// Both sides occur in the same field with at most `distance` word
    /// positions between the end of one and the start of the other
    /// (adjacent words are at distance 1), in either order. Each side is a
    /// `Match` or an `Or` of `Match`es.
    Near {
        left: Box<Expr>,
        right: Box<Expr>,
        distance: u32,
    },
    /// The item's (or else its feed's) language has this primary tag.
    Lang(String),
    /// The item's feed has this name or tag (case-insensitive).
    Feed(String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    /// Whether the expression needs some word of the document to match (it
    /// is not satisfied by absence or by metadata alone). Every topic must be
    /// positive: that is what lets the presearcher index it.
    pub fn is_positive(&self) -> bool {
        match self {
            Expr::Match { .. } | Expr::Near { .. } => true,
            Expr::And(children) => children.iter().any(Expr::is_positive),
            Expr::Or(children) => children.iter().all(Expr::is_positive),
            Expr::Not(_) | Expr::Lang(_) | Expr::Feed(_) => false,
        }
    }
}

impl fmt::Display for Expr {
    /// Prints the query back in the query language (fully parenthesised);
    /// the output parses to the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Match { field, words } => {
                match field {
                    Field::Any => {}
                    Field::Title => f.write_str("title:")?,
                    Field::Text => f.write_str("text:")?,
                }
                let quoted = words.len() > 1;
                if quoted {
                    f.write_str("\"")?;
                }
                for (i, word) in words.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    match word {
                        Pattern::Word(w) => f.write_str(w)?,
                        Pattern::Prefix(p) => write!(f, "{p}*")?,
                    }
                }
                if quoted {
                    f.write_str("\"")?;
                }
                Ok(())
            }
            Expr::Near {
                left,
                right,
                distance,
            } => write!(f, "({left} NEAR/{distance} {right})"),
            Expr::Lang(code) => write!(f, "lang:{code}"),
            Expr::Feed(name) => write!(f, "feed:\"{name}\""),
            Expr::And(children) => write_joined(f, children, " AND "),
            Expr::Or(children) => write_joined(f, children, " OR "),
            Expr::Not(child) => write!(f, "NOT {child}"),
        }
    }
}

fn write_joined(f: &mut fmt::Formatter<'_>, children: &[Expr], sep: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{child}")?;
    }
    f.write_str(")")
}

/// A query that cannot be parsed: the 1-based column (in characters) and
/// what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl QueryError {
    fn new(column: usize, message: impl Into<String>) -> Self {
        Self {
            column,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    Near(u32),
    Scope(Field),
    Lang(String),
    Feed(String),
    Set(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Phrase(p) => format!("\"{p}\""),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Not => "NOT".into(),
            Tok::Minus => "'-'".into(),
            Tok::Near(n) => format!("NEAR/{n}"),
            Tok::Scope(Field::Title) => "title:".into(),
            Tok::Scope(_) => "text:".into(),
            Tok::Lang(l) => format!("lang:{l}"),
            Tok::Feed(f) => format!("feed:{f}"),
            Tok::Set(s) => format!("@{s}"),
        }
    }
}

/// A token with its 1-based start column.
type Spanned = (Tok, usize);

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”')
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')') || is_quote(c)
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    toks: Vec<Spanned>,
}

impl Lexer {
    fn run(input: &str) -> Result<Vec<Spanned>, QueryError> {
        let mut lexer = Lexer {
            chars: input.chars().collect(),
            pos: 0,
            toks: Vec::new(),
        };
        while lexer.pos < lexer.chars.len() {
            lexer.token()?;
        }
        Ok(lexer.toks)
    }

    fn token(&mut self) -> Result<(), QueryError> {
        let c = self.chars[self.pos];
        let col = self.pos + 1;
        match c {
            c if c.is_whitespace() => self.pos += 1,
            '(' => self.push(Tok::LParen, 1),
            ')' => self.push(Tok::RParen, 1),
            c if is_quote(c) => {
                let phrase = self.quoted()?;
                self.toks.push((Tok::Phrase(phrase), col));
            }
            '-' if self.at_token_start()
                && self
                    .chars
                    .get(self.pos + 1)
                    .is_some_and(|c| !c.is_whitespace() && *c != ')') =>
            {
                self.push(Tok::Minus, 1)
            }
            _ => {
                let word = self.word();
                self.classify(word, col)?;
            }
        }
        Ok(())
    }

    fn push(&mut self, tok: Tok, len: usize) {
        self.toks.push((tok, self.pos + 1));
        self.pos += len;
    }

    fn at_token_start(&self) -> bool {
        self.pos == 0 || self.chars[self.pos - 1].is_whitespace() || self.chars[self.pos - 1] == '('
    }

    /// Reads a quoted phrase starting at a quote; returns its content.
    fn quoted(&mut self) -> Result<String, QueryError> {
        let open = self.pos + 1;
        let start = self.pos + 1;
        let end = self.chars[start..]
            .iter()
            .position(|&c| is_quote(c))
            .map(|p| start + p)
            .ok_or_else(|| {
                QueryError::new(
                    self.chars.len() + 1,
                    format!("expected '\"' to close the phrase opened at column {open}"),
                )
            })?;
        self.pos = end + 1;
        Ok(self.chars[start..end].iter().collect())
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.pos < self.chars.len() && !is_delimiter(self.chars[self.pos]) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn classify(&mut self, mut word: String, mut col: usize) -> Result<(), QueryError> {
        // Field scopes prefix the rest of the word (`title:x`, `title:(`,
        // even `title:text:x`): one token each, split off in a loop (a
        // word of thousands of scopes recursed as deep).
        let mut scopes = 0;
        while let Some((field, len)) = scope_prefix(&word[scopes..]) {
            self.toks.push((Tok::Scope(field), col + scopes));
            scopes += len;
        }
        if scopes > 0 {
            if scopes == word.len() {
                return Ok(());
            }
            word.drain(..scopes);
            col += scopes;
        }
        let lower_prefix = |p: &str| has_prefix(&word, p);
        let tok = match word.as_str() {
            "AND" => Tok::And,
            "OR" => Tok::Or,
            "NOT" => Tok::Not,
            "NEAR" => {
                return Err(QueryError::new(
                    col,
                    "expected NEAR/n with a word distance, e.g. NEAR/10",
                ))
            }
            w if w.starts_with("NEAR/") => {
                let n = &w[5..];
                match n.parse::<u32>() {
                    Ok(n) if (1..=MAX_NEAR_DISTANCE).contains(&n) => Tok::Near(n),
                    _ => {
                        return Err(QueryError::new(
                            col + 5,
                            format!(
                                "expected a distance from 1 to {MAX_NEAR_DISTANCE} after NEAR/, found {n:?}"
                            ),
                        ))
                    }
                }
            }
            _ if lower_prefix("lang:") => {
                let code = word[5..].to_ascii_lowercase();
                if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(QueryError::new(
                        col + 5,
                        "expected a language code after lang:, e.g. lang:fa",
                    ));
                }
                Tok::Lang(code)
            }
            _ if lower_prefix("feed:") => {
                let name = if word.len() > 5 {
                    word[5..].to_string()
                } else if self.chars.get(self.pos).is_some_and(|&c| is_quote(c)) {
                    self.quoted()?
                } else {
                    return Err(QueryError::new(
                        col + 5,
                        "expected a feed name or tag after feed:",
                    ));
                };
                Tok::Feed(name.trim().to_string())
            }
            w if unsupported_field(w).is_some() => {
                let field = unsupported_field(w).unwrap_or_default();
                return Err(QueryError::new(
                    col,
                    format!(
                        "unsupported field \"{field}:\"; the fields are title:, text:, lang: and feed: \
                         (to match the words, write them without the colon or in quotes)"
                    ),
                ));
            }
            w if w.starts_with('@') => {
                let name = &w[1..];
                if name.is_empty() {
                    return Err(QueryError::new(col + 1, "expected a term set name after '@'"));
                }
                Tok::Set(name.to_string())
            }
            _ => Tok::Word(word),
        };
        self.toks.push((tok, col));
        Ok(())
    }
}

/// The field name of a word that looks like `field:value` with a field
/// this language does not have (`site:rudaw.net`, `author:x`, `url:…`):
/// ASCII letters, a colon, then a value that is not `//` (a bare URL
/// stays a word).
fn unsupported_field(word: &str) -> Option<&str> {
    let (field, value) = word.split_once(':')?;
    let looks_like_field = (2..=16).contains(&field.len()) && field.bytes().all(|b| b.is_ascii_alphabetic());
    (looks_like_field && !value.is_empty() && !value.starts_with("//") && !value.starts_with(':'))
        .then_some(field)
}

/// Whether `word` starts with `prefix`, ignoring ASCII case.
fn has_prefix(word: &str, prefix: &str) -> bool {
    word.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The field scope `word` starts with and its length in bytes.
fn scope_prefix(word: &str) -> Option<(Field, usize)> {
    if has_prefix(word, "title:") {
        Some((Field::Title, 6))
    } else if has_prefix(word, "text:") {
        Some((Field::Text, 5))
    } else {
        None
    }
}

/// Parses a query without term sets.
pub fn parse(input: &str) -> Result<Expr, QueryError> {
    parse_with(input, &TermSets::new())
}

/// Parses a query; `@name` refers to `sets`.
pub fn parse_with(input: &str, sets: &TermSets) -> Result<Expr, QueryError> {
    if input.len() > MAX_QUERY_BYTES {
        let column = input
            .char_indices()
            .position(|(i, c)| i + c.len_utf8() > MAX_QUERY_BYTES)
            .expect("some character ends past the limit")
            + 1;
        return Err(QueryError::new(
            column,
            format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let toks = Lexer::run(input)?;
    if toks.is_empty() {
        return Err(QueryError::new(1, "the query is empty"));
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        end_column: input.chars().count() + 1,
        sets,
        depth: 0,
        words: 0,
        wildcards: 0,
    };
    let expr = parser.or()?;
    if let Some((tok, col)) = parser.peek() {
        let message = match tok {
            Tok::RParen => "unexpected ')' without a matching '('".to_string(),
            other => format!("unexpected {}", other.describe()),
        };
        return Err(QueryError::new(*col, message));
    }
    if !expr.is_positive() {
        return Err(QueryError::new(
            1,
            "the query matches by absence or filters alone; it needs at least one term that is not negated",
        ));
    }
    Ok(expr)
}

struct Parser<'s> {
    toks: Vec<Spanned>,
    pos: usize,
    end_column: usize,
    sets: &'s TermSets,
    /// Levels (parentheses, NOTs, scopes) open at the current token.
    depth: usize,
    /// Words and wildcards of the tree so far, term sets expanded.
    words: usize,
    wildcards: usize,
}

/// The error for a query deeper than [`MAX_DEPTH`].
fn too_deep(column: usize) -> QueryError {
    QueryError::new(
        column,
        format!(
            "the query nests deeper than {MAX_DEPTH} levels (parentheses, NOT, field scopes and AND, OR and NEAR groups count)"
        ),
    )
}

/// How deep `expr` nests as `Display` prints it: the levels the parser
/// opens reading it back (each AND, OR and NEAR is parenthesised, each NOT
/// and each scoped match is a level).
fn printed_depth(expr: &Expr) -> usize {
    match expr {
        Expr::Match {
            field: Field::Any, ..
        }
        | Expr::Lang(_)
        | Expr::Feed(_) => 0,
        Expr::Match { .. } => 1,
        Expr::Near { left, right, .. } => 1 + printed_depth(left).max(printed_depth(right)),
        Expr::And(children) | Expr::Or(children) => 1 + children.iter().map(printed_depth).max().unwrap_or(0),
        Expr::Not(child) => 1 + printed_depth(child),
    }
}

impl Parser<'_> {
    /// Runs `inner` one level deeper (a group, a NOT, a scope opened by the
    /// token at `column`), or refuses the query if that would pass
    /// [`MAX_DEPTH`]: checked before recursing, so the stack stays shallow.
    fn nested(
        &mut self,
        column: usize,
        inner: impl FnOnce(&mut Self) -> Result<Expr, QueryError>,
    ) -> Result<Expr, QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep(column));
        }
        self.depth += 1;
        let expr = inner(self);
        self.depth -= 1;
        expr
    }

    /// Counts the words and wildcards of a match at `column` against
    /// [`MAX_TERMS`] and [`MAX_WILDCARDS`].
    fn count(&mut self, expr: Expr, column: usize) -> Result<Expr, QueryError> {
        if let Expr::Match { words, .. } = &expr {
            self.words += words.len();
            self.wildcards += words.iter().filter(|p| matches!(p, Pattern::Prefix(_))).count();
        }
        if self.words > MAX_TERMS {
            return Err(QueryError::new(
                column,
                format!(
                    "the query has more than {MAX_TERMS} terms (each word of a phrase or a term set counts)"
                ),
            ));
        }
        if self.wildcards > MAX_WILDCARDS {
            return Err(QueryError::new(
                column,
                format!("the query has more than {MAX_WILDCARDS} wildcards (those of term sets count)"),
            ));
        }
        Ok(expr)
    }

    fn peek(&self) -> Option<&Spanned> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Spanned> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    /// "expected …" at the next token (or the end), naming the token before.
    fn expected_here(&self, what: &str) -> QueryError {
        let previous = self
            .pos
            .checked_sub(1)
            .and_then(|p| self.toks.get(p))
            .map(|(t, _)| t.describe());
        let column = self.peek().map_or(self.end_column, |(_, c)| *c);
        match previous {
            Some(after) => QueryError::new(column, format!("expected {what} after {after}")),
            None => QueryError::new(column, format!("expected {what}")),
        }
    }

    /// The whole query or a group. Also holds what it built to
    /// [`MAX_DEPTH`] as printed (parenthesised), reported at its start.
    fn or(&mut self) -> Result<Expr, QueryError> {
        let start = self.peek().map_or(self.end_column, |(_, c)| *c);
        let mut children = vec![self.and()?];
        while matches!(self.peek(), Some((Tok::Or, _))) {
            self.pos += 1;
            children.push(self.and()?);
        }
        let expr = flatten(children, Expr::Or);
        if printed_depth(&expr) > MAX_DEPTH {
            return Err(too_deep(start));
        }
        Ok(expr)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut children = vec![self.unary()?];
        loop {
            match self.peek() {
                Some((Tok::And, _)) => {
                    self.pos += 1;
                    children.push(self.unary()?);
                }
                Some((Tok::Or | Tok::RParen, _)) | None => break,
                Some(_) => children.push(self.unary()?),
            }
        }
        Ok(flatten(children, Expr::And))
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        match self.peek() {
            Some((Tok::Not | Tok::Minus, col)) => {
                let col = *col;
                self.pos += 1;
                self.nested(col, |p| Ok(Expr::Not(Box::new(p.unary()?))))
            }
            _ => self.near(),
        }
    }

    fn near(&mut self) -> Result<Expr, QueryError> {
        let left_col = self.peek().map_or(self.end_column, |(_, c)| *c);
        let left = self.scoped()?;
        let Some((Tok::Near(distance), near_col)) = self.peek().cloned() else {
            return Ok(left);
        };
        self.pos += 1;
        let right_col = self.peek().map_or(self.end_column, |(_, c)| *c);
        let right = self.scoped()?;
        for (side, col) in [(&left, left_col), (&right, right_col)] {
            if !is_near_operand(side) {
                return Err(QueryError::new(
                    col,
                    format!("NEAR/{distance} at column {near_col} needs a term, a phrase or an OR-group of those on each side"),
                ));
            }
        }
        if let Some((Tok::Near(_), col)) = self.peek() {
            return Err(QueryError::new(
                *col,
                "NEAR cannot be chained; combine two NEARs with AND",
            ));
        }
        Ok(Expr::Near {
            left: Box::new(left),
            right: Box::new(right),
            distance,
        })
    }

    fn scoped(&mut self) -> Result<Expr, QueryError> {
        if let Some((Tok::Scope(field), col)) = self.peek().cloned() {
            self.pos += 1;
            if matches!(self.peek(), Some((Tok::Scope(_), _))) {
                return Err(self.expected_here("a term, a phrase or '('"));
            }
            return self.nested(col, |p| {
                let mut inner = p.scoped()?;
                scope(&mut inner, field);
                Ok(inner)
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let expected = "a term, a phrase or '('";
        match self.peek().cloned() {
            Some((Tok::LParen, open)) => {
                self.pos += 1;
                let inner = self.nested(open, Self::or)?;
                match self.next() {
                    Some((Tok::RParen, _)) => Ok(inner),
                    Some((_, col)) => Err(QueryError::new(
                        col,
                        format!("expected ')' to close '(' at column {open}"),
                    )),
                    None => Err(QueryError::new(
                        self.end_column,
                        format!("expected ')' to close '(' at column {open}"),
                    )),
                }
            }
            Some((Tok::Word(word), col)) => {
                self.pos += 1;
                let term = phrase_expr(&word, col, "term")?;
                self.count(term, col)
            }
            Some((Tok::Phrase(phrase), col)) => {
                self.pos += 1;
                let phrase = phrase_expr(&phrase, col, "phrase")?;
                self.count(phrase, col)
            }
            Some((Tok::Lang(code), _)) => {
                self.pos += 1;
                // Items carry a primary subtag (identified): `lang:fa-IR`
                // is `lang:fa`.
                let primary = code
                    .split(['-', '_'])
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                Ok(Expr::Lang(primary))
            }
            Some((Tok::Feed(name), _)) => {
                self.pos += 1;
                Ok(Expr::Feed(name))
            }
            Some((Tok::Set(name), col)) => {
                self.pos += 1;
                self.term_set(&name, col)
            }
            _ => Err(self.expected_here(expected)),
        }
    }

    fn term_set(&mut self, name: &str, col: usize) -> Result<Expr, QueryError> {
        let sets = self.sets;
        let Some(terms) = sets.get(name) else {
            let mut known: Vec<&str> = sets.keys().map(String::as_str).collect();
            known.sort_unstable();
            let known = if known.is_empty() {
                "none are defined in [terms]".to_string()
            } else {
                format!("known: {}", known.join(", "))
            };
            return Err(QueryError::new(
                col,
                format!("unknown term set @{name} ({known})"),
            ));
        };
        let alternatives = terms
            .iter()
            .map(|t| {
                let term = phrase_expr(t, col, "term")
                    .map_err(|e| QueryError::new(col, format!("in @{name}: {}", e.message)))?;
                self.count(term, col)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if alternatives.is_empty() {
            return Err(QueryError::new(col, format!("term set @{name} is empty")));
        }
        Ok(flatten(alternatives, Expr::Or))
    }
}

/// NEAR operands: a match, or an OR of matches.
fn is_near_operand(expr: &Expr) -> bool {
    match expr {
        Expr::Match { .. } => true,
        Expr::Or(children) => children.iter().all(|c| matches!(c, Expr::Match { .. })),
        _ => false,
    }
}

/// Applies a field scope to every match below `expr` that has none.
fn scope(expr: &mut Expr, to: Field) {
    match expr {
        Expr::Match { field, .. } => {
            if *field == Field::Any {
                *field = to;
            }
        }
        Expr::Near { left, right, .. } => {
            scope(left, to);
            scope(right, to);
        }
        Expr::And(children) | Expr::Or(children) => children.iter_mut().for_each(|c| scope(c, to)),
        Expr::Not(child) => scope(child, to),
        Expr::Lang(_) | Expr::Feed(_) => {}
    }
}

/// Parses one entry of a term set (a word or phrase, `*` allowed), as it
/// would be expanded into a query.
pub fn parse_term(raw: &str) -> Result<Expr, QueryError> {
    phrase_expr(raw, 1, "term")
}

/// Folds a term or phrase into patterns. Whitespace-separated chunks may end
/// in `*` (a prefix); a chunk that folds to several words is a sub-phrase.
fn phrase_expr(raw: &str, col: usize, what: &str) -> Result<Expr, QueryError> {
    if what == "term" {
        if let Some(stem) = apostrophe_stem(raw) {
            return Ok(with_spellings(vec![Pattern::Word(stem)]));
        }
    }
    let mut words = Vec::new();
    for chunk in raw.split_whitespace() {
        let (body, wildcard) = match chunk.strip_suffix('*') {
            Some(body) => (body, true),
            None => (chunk, false),
        };
        if body.contains('*') {
            return Err(QueryError::new(
                col,
                format!("in {raw:?}: '*' is only allowed at the end of a word"),
            ));
        }
        // A term with a letter only Sorani uses is read as Sorani (rule 13
        // of `text`), as Sorani articles are.
        let lang = text::is_sorani_text(raw).then_some("ckb");
        let mut folded = text::words_in(body, lang);
        if wildcard {
            let Some(last) = folded.pop() else {
                return Err(QueryError::new(
                    col,
                    format!("in {raw:?}: '*' needs a word before it"),
                ));
            };
            if last.chars().count() < MIN_PREFIX_CHARS {
                return Err(QueryError::new(
                    col,
                    format!("in {raw:?}: a wildcard needs at least {MIN_PREFIX_CHARS} letters before '*'"),
                ));
            }
            words.extend(folded.into_iter().map(Pattern::Word));
            words.push(Pattern::Prefix(last));
        } else {
            words.extend(folded.into_iter().map(Pattern::Word));
        }
    }
    if words.is_empty() {
        return Err(QueryError::new(
            col,
            format!("the {what} {raw:?} contains no letters or digits"),
        ));
    }
    Ok(with_spellings(words))
}

/// The most alternatives [`with_spellings`] gives one term: a safety
/// valve (a closed set is far smaller: 2 to 8 for real words).
const MAX_SPELLINGS: usize = 64;

/// A term or phrase (folded words) as the OR of its spellings in Arabic
/// script (rules 12 and 13 of `text`; docs/queries.md): a word also
/// stands for its stem without proclitics (`الاستفتاء` → `استفتاء`,
/// `وبغداد` → `بغداد`) and for the compounds it may be written apart
/// (`همهپرسی` → `"همه پرسی"`); two words also for the compound glued
/// (`"همه پرسی"` → `همهپرسی`); Persian-looking words also for their
/// Sorani spellings (`په‌رله‌مان` → `پەرلەمان`). The set is closed — every
/// spelling has no spellings outside it — and depends on the folded words
/// only, so a query printed and parsed again is the same tree.
fn with_spellings(words: Vec<Pattern>) -> Expr {
    let as_words: Option<Vec<String>> = words
        .iter()
        .map(|p| match p {
            Pattern::Word(w) => Some(w.clone()),
            Pattern::Prefix(_) => None,
        })
        .collect();
    let Some(first) = as_words.filter(|ws| ws.iter().any(|w| is_arabic_script(w))) else {
        return Expr::Match {
            field: Field::Any,
            words,
        };
    };
    let mut all = vec![first];
    let mut next = 0;
    while next < all.len() && all.len() < MAX_SPELLINGS {
        for spelling in spellings(&all[next]) {
            if !all.contains(&spelling) && all.len() < MAX_SPELLINGS {
                all.push(spelling);
            }
        }
        next += 1;
    }
    let mut alternatives: Vec<Expr> = all
        .into_iter()
        .map(|ws| Expr::Match {
            field: Field::Any,
            words: ws.into_iter().map(Pattern::Word).collect(),
        })
        .collect();
    if alternatives.len() == 1 {
        alternatives.pop().expect("one")
    } else {
        Expr::Or(alternatives)
    }
}

/// The spellings one step from the folded words `words` (see
/// [`with_spellings`]).
fn spellings(words: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    match words {
        [word] => {
            out.extend(text::query_stem(word).map(|stem| vec![stem]));
            out.extend(text::compound_splits(word).into_iter().map(Vec::from));
        }
        [a, b] if is_arabic_script(a) && is_arabic_script(b) => out.push(vec![format!("{a}{b}")]),
        _ => {}
    }
    out.extend(text::sorani_readings(words));
    // Words glued from several are not stripped of proclitics: a glued
    // word with a stem would stand for yet more spellings (`"العراقية
    // العراقية"` glued is not `عراقيةالعراقية`).
    if words.len() > 1 {
        out.retain(|s| !matches!(s.as_slice(), [w] if text::query_stem(w).is_some()));
    }
    // A spelling with a letter only Sorani uses is read as Sorani when
    // printed and parsed again, so each of its words is spelt so.
    for spelling in &mut out {
        if spelling.iter().any(|w| text::is_sorani_text(w)) {
            for word in spelling.iter_mut() {
                *word = text::sorani_word(word);
            }
        }
    }
    out
}

/// Whether a folded word is written in Arabic script (Arabic, Persian,
/// Kurdish).
fn is_arabic_script(word: &str) -> bool {
    word.chars()
        .all(|c| text::is_arabic_block(c) || c.is_ascii_digit())
        && word.chars().any(|c| !c.is_ascii_digit())
}

/// A bare term written with a suffix after an apostrophe (`Türkiye'de`,
/// `IKBY'nin`, `Kurdistan's`, `Amed’ê`) is the word before it, as Lucene's
/// ApostropheFilter reads it: it finds the word with any suffix and
/// without one (an article's `Türkiye'de` is the words `turkiye`, `de`).
/// Only for a single word before and after the apostrophe; not in quoted
/// phrases, whose words must follow each other as written.
fn apostrophe_stem(raw: &str) -> Option<String> {
    let (before, after) = raw.split_once(['\'', '’', 'ʼ', '‘', '‛', '＇'])?;
    if raw.contains(char::is_whitespace) || after.contains('*') {
        return None;
    }
    let (mut stem, suffix) = (text::words(before), text::words(after));
    let letters = |w: &String| w.chars().all(char::is_alphabetic);
    (stem.len() == 1 && suffix.len() == 1 && letters(&suffix[0]) && !after.contains(['\'', '’', 'ʼ']))
        .then(|| stem.pop().expect("one word"))
}

/// Builds an AND/OR node, splicing in children of the same kind
/// (`a OR (b OR c)` is one OR of three), or returns a lone child as is.
fn flatten(children: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    let mut flat = Vec::with_capacity(children.len());
    let is_same = |e: &Expr| match make(Vec::new()) {
        Expr::And(_) => matches!(e, Expr::And(_)),
        _ => matches!(e, Expr::Or(_)),
    };
    let push = |flat: &mut Vec<Expr>, child: Expr| {
        // `a OR a` is `a`: a term may stand for alternatives that a query
        // also spells out (`والعراق OR العراق`).
        if !flat.contains(&child) {
            flat.push(child);
        }
    };
    for child in children {
        if is_same(&child) {
            if let Expr::And(inner) | Expr::Or(inner) = child {
                for c in inner {
                    push(&mut flat, c);
                }
            }
        } else {
            push(&mut flat, child);
        }
    }
    if flat.len() == 1 {
        flat.pop().expect("one child")
    } else {
        make(flat)
    }
}

/// For tests: `w{k} OR v{k} (…)` around `z`, `levels` times, the outermost
/// `k` first. Each level written is two printed, `(w{k} OR (v{k} AND (…)))`.
#[cfg(test)]
pub(crate) fn implied_groups(levels: usize) -> String {
    (0..levels).fold("z".to_string(), |inner, k| format!("w{k} OR v{k} ({inner})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> TermSets {
        let mut sets = TermSets::new();
        sets.insert(
            "baqeri".into(),
            vec!["Baqeri".into(), "Bagheri".into(), "Mohammad Baqeri".into()],
        );
        sets.insert("empty".into(), vec![]);
        sets
    }

    fn ok(input: &str, expected: &str) {
        let expr = parse_with(input, &sets()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(expr.to_string(), expected, "parse({input:?})");
        // Printing re-parses to the same tree.
        assert_eq!(parse(&expr.to_string()).unwrap(), expr, "round trip of {input:?}");
    }

    fn err(input: &str, expected: &str) {
        let e = parse_with(input, &sets()).expect_err(input);
        assert_eq!(e.to_string(), expected, "parse({input:?})");
    }

    #[test]
    fn parses_operators_and_precedence() {
        ok("referendum", "referendum");
        ok("Kurdistan referendum", "(kurdistan AND referendum)");
        ok(
            "(Kurdistan OR KRG) AND referendum",
            "((kurdistan OR krg) AND referendum)",
        );
        ok("a OR b c", "(a OR (b AND c))");
        ok("a OR (b OR c) OR (d e)", "(a OR b OR c OR (d AND e))");
        ok("a AND b OR c", "((a AND b) OR c)");
        ok("referendum NOT football", "(referendum AND NOT football)");
        ok("referendum -football", "(referendum AND NOT football)");
        ok("\"Hulusi Akar\" Tehran", "(\"hulusi akar\" AND tehran)");
        ok("“Hulusi Akar”", "\"hulusi akar\"");
        ok("Kurdistan's", "kurdistan");
        ok("\"Kurdistan's\"", "\"kurdistan s\"");
        ok("al-Abadi", "\"al abadi\"");
        ok("and or not near", "(and AND or AND not AND near)");
    }

    /// Fuzzing (tests/fuzz, target `text`): a bidi control inside the jamo
    /// of `한` used to fold to the bare jamo, which printed and re-parsed as
    /// the composed syllable, a different tree.
    #[test]
    fn a_term_with_a_dropped_control_prints_back_to_itself() {
        ok("\u{1112}\u{2068}\u{1161}\u{11AB}", "\u{D55C}");
    }

    #[test]
    fn parses_wildcards() {
        ok("referend*", "referend*");
        ok("\"independence referend*\"", "\"independence referend*\"");
        ok("Kurdistan's ref*", "(kurdistan AND ref*)");
        err(
            "Kurdistan's*",
            "column 1: in \"Kurdistan's*\": a wildcard needs at least 2 letters before '*'",
        );
        err(
            "a*b",
            "column 1: in \"a*b\": '*' is only allowed at the end of a word",
        );
        err(
            "x AND r*",
            "column 7: in \"r*\": a wildcard needs at least 2 letters before '*'",
        );
        err("*", "column 1: in \"*\": '*' needs a word before it");
    }

    #[test]
    fn parses_near() {
        ok("Baqeri NEAR/10 Akar", "(baqeri NEAR/10 akar)");
        ok(
            "(Baqeri OR Bagheri) NEAR/10 Akar",
            "((baqeri OR bagheri) NEAR/10 akar)",
        );
        ok(
            "\"Hulusi Akar\" NEAR/5 Tehran visit",
            "((\"hulusi akar\" NEAR/5 tehran) AND visit)",
        );
        ok("NOT a NEAR/2 b c", "(NOT (a NEAR/2 b) AND c)");
        ok("title:(a OR b) NEAR/3 c", "((title:a OR title:b) NEAR/3 c)");
        err(
            "a NEAR b",
            "column 3: expected NEAR/n with a word distance, e.g. NEAR/10",
        );
        err(
            "a NEAR/x b",
            "column 8: expected a distance from 1 to 1000 after NEAR/, found \"x\"",
        );
        err(
            "a NEAR/0 b",
            "column 8: expected a distance from 1 to 1000 after NEAR/, found \"0\"",
        );
        err(
            "a NEAR/3",
            "column 9: expected a term, a phrase or '(' after NEAR/3",
        );
        err(
            "(a b) NEAR/3 c",
            "column 1: NEAR/3 at column 7 needs a term, a phrase or an OR-group of those on each side",
        );
        err(
            "a NEAR/3 b NEAR/3 c",
            "column 12: NEAR cannot be chained; combine two NEARs with AND",
        );
    }

    #[test]
    fn parses_fields_filters_and_sets() {
        ok("title:referendum", "title:referendum");
        ok("text:\"Hulusi Akar\"", "text:\"hulusi akar\"");
        ok("title:(a OR text:b)", "(title:a OR text:b)");
        ok("TITLE:a", "title:a");
        ok("referendum lang:fa", "(referendum AND lang:fa)");
        ok("referendum lang:FA-ir", "(referendum AND lang:fa)");
        ok("referendum feed:Mehr", "(referendum AND feed:\"Mehr\")");
        ok(
            "referendum feed:\"Mehr News (en)\"",
            "(referendum AND feed:\"Mehr News (en)\")",
        );
        ok(
            "@baqeri NEAR/10 Akar",
            "((baqeri OR bagheri OR \"mohammad baqeri\") NEAR/10 akar)",
        );
        ok(
            "title:@baqeri",
            "(title:baqeri OR title:bagheri OR title:\"mohammad baqeri\")",
        );
        err(
            "@nope x",
            "column 1: unknown term set @nope (known: baqeri, empty)",
        );
        err("@empty", "column 1: term set @empty is empty");
        err(
            "a lang:",
            "column 8: expected a language code after lang:, e.g. lang:fa",
        );
        err("a feed:", "column 8: expected a feed name or tag after feed:");
        err(
            "title:",
            "column 7: expected a term, a phrase or '(' after title:",
        );
        err(
            "lang:fa",
            "column 1: the query matches by absence or filters alone; it needs at least one term that is not negated",
        );
    }

    #[test]
    fn reports_columns() {
        err(
            "(Kurdistan OR KRG AND referendum",
            "column 33: expected ')' to close '(' at column 1",
        );
        err(
            "Kurdistan OR",
            "column 13: expected a term, a phrase or '(' after OR",
        );
        err(
            "Kurdistan AND )",
            "column 15: expected a term, a phrase or '(' after AND",
        );
        err("a b)", "column 4: unexpected ')' without a matching '('");
        err(
            "\"Hulusi Akar",
            "column 13: expected '\"' to close the phrase opened at column 1",
        );
        err("   ", "column 1: the query is empty");
        err(
            "a AND ...",
            "column 7: the term \"...\" contains no letters or digits",
        );
        err(
            "NOT football",
            "column 1: the query matches by absence or filters alone; it needs at least one term that is not negated",
        );
        err(
            "a OR -b",
            "column 1: the query matches by absence or filters alone; it needs at least one term that is not negated",
        );
    }

    /// `n` copies of `open`, then `inner`, then `n` copies of `close`.
    fn nest(open: &str, inner: &str, close: &str, n: usize) -> String {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    }

    fn too_deep_at(column: usize) -> String {
        format!(
            "column {column}: the query nests deeper than 64 levels (parentheses, NOT, field scopes and AND, OR and NEAR groups count)"
        )
    }

    #[test]
    fn nesting_up_to_max_depth_parses_and_prints_back() {
        assert_eq!(MAX_DEPTH, 64);
        ok(&nest("(", "a", ")", MAX_DEPTH), "a");
        ok(&nest("title:(", "a", ")", MAX_DEPTH / 2), "title:a");
        // 63 NOTs inside the AND: 64 levels as printed.
        ok(
            &format!("x {}y", "NOT ".repeat(MAX_DEPTH - 1)),
            &format!("(x AND {}y)", "NOT ".repeat(MAX_DEPTH - 1)),
        );
        // 32 groups written, 64 levels printed; `ok` reads the print back.
        let expr = parse(&implied_groups(MAX_DEPTH / 2)).unwrap();
        assert_eq!(printed_depth(&expr), MAX_DEPTH);
        ok(&implied_groups(MAX_DEPTH / 2), &expr.to_string());
    }

    /// Issue 20: 1,600 nested parentheses overflowed a tokio worker's stack
    /// (2 MiB, a test thread's size) and aborted the daemon; a word of a
    /// few thousand `title:` overflowed it in the lexer.
    #[test]
    fn nesting_beyond_max_depth_is_refused_where_it_passes_the_limit() {
        err(&nest("(", "a", ")", MAX_DEPTH + 1), &too_deep_at(65));
        err(&nest("(", "a", ")", 8000), &too_deep_at(65));
        err(&format!("{}a", "NOT ".repeat(MAX_DEPTH + 1)), &too_deep_at(257));
        err(&nest("-(", "a", ")", 5000), &too_deep_at(65));
        // The 33rd `title:(` opens level 65 with its scope.
        err(&nest("title:(", "a", ")", MAX_DEPTH / 2 + 1), &too_deep_at(225));
        // Levels the printed form adds count: the AND around 64 NOTs, the
        // groups `a OR b c` implies (at the start of the group they are in).
        err(&format!("x {}y", "NOT ".repeat(MAX_DEPTH)), &too_deep_at(1));
        err(&implied_groups(MAX_DEPTH / 2 + 1), &too_deep_at(1));
        err(
            &format!("x ({})", implied_groups(MAX_DEPTH / 2 + 1)),
            &too_deep_at(4),
        );
        err(
            &format!("{}a", "title:".repeat(2700)),
            "column 7: expected a term, a phrase or '(' after title:",
        );
    }

    #[test]
    fn long_queries_are_refused() {
        assert!(parse(&"a".repeat(MAX_QUERY_BYTES)).is_ok());
        err(
            &"a".repeat(MAX_QUERY_BYTES + 1),
            "column 16385: the query is longer than 16384 bytes",
        );
        // The column counts characters: the 8,193rd `é` ends past the limit.
        err(
            &"é".repeat(MAX_QUERY_BYTES / 2 + 1),
            "column 8193: the query is longer than 16384 bytes",
        );
        err(
            &nest("(", "a", ")", 30_000),
            "column 16385: the query is longer than 16384 bytes",
        );
    }

    #[test]
    fn terms_are_counted_with_term_sets_expanded() {
        let words = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>();
        let or = words(MAX_TERMS).join(" OR ");
        assert!(parse(&or).is_ok());
        let more = format!("{or} OR w1000");
        let column = more.rfind("w1000").unwrap() + 1;
        assert_eq!(
            parse(&more).unwrap_err().to_string(),
            format!("column {column}: the query has more than 1000 terms (each word of a phrase or a term set counts)")
        );
        // Each word of a phrase counts.
        assert_eq!(
            parse(&format!("x \"{}\"", words(MAX_TERMS).join(" ")))
                .unwrap_err()
                .column,
            3
        );
        // A term set counts each time it is used.
        let mut sets = TermSets::new();
        sets.insert("big".into(), words(600));
        assert!(parse_with("@big", &sets).is_ok());
        assert_eq!(
            parse_with("@big OR @big", &sets).unwrap_err().to_string(),
            "column 9: the query has more than 1000 terms (each word of a phrase or a term set counts)"
        );
    }

    #[test]
    fn wildcards_are_counted_with_term_sets_expanded() {
        let stems = |n: usize| (0..n).map(|i| format!("ab{i}*")).collect::<Vec<_>>();
        let or = stems(MAX_WILDCARDS).join(" OR ");
        assert!(parse(&or).is_ok());
        assert_eq!(
            parse(&format!("{or} OR \"x ab16*\"")).unwrap_err().to_string(),
            format!(
                "column {}: the query has more than 16 wildcards (those of term sets count)",
                or.len() + 5
            )
        );
        let mut sets = TermSets::new();
        sets.insert("stems".into(), stems(9));
        assert!(parse_with("@stems x", &sets).is_ok());
        assert_eq!(
            parse_with("@stems @stems", &sets).unwrap_err().to_string(),
            "column 8: the query has more than 16 wildcards (those of term sets count)"
        );
    }

    #[test]
    fn a_term_with_an_apostrophe_suffix_is_its_stem() {
        let word = |q: &str| match parse(q).unwrap() {
            Expr::Match { words, .. } => words,
            other => panic!("{q}: {other:?}"),
        };
        for (query, stem) in [
            ("Türkiye'de", "turkiye"),
            ("IKBY'nin", "ikby"),
            ("Kurdistan’s", "kurdistan"),
            ("Amedʼê", "amed"),
        ] {
            assert_eq!(word(query), [Pattern::Word(stem.into())], "{query}");
        }
        // Phrases keep every word; a wildcard is not a suffix.
        assert_eq!(word("\"Türkiye'de seçim\"").len(), 3);
        assert_eq!(word("Türkiye'de*").len(), 2);
    }

    #[test]
    fn unsupported_fields_are_errors_naming_the_fields() {
        for (query, column) in [
            ("site:rudaw.net", 1),
            ("Kirkuk author:smith", 8),
            ("(URL:x OR y)", 2),
        ] {
            let e = parse(query).unwrap_err();
            assert_eq!(e.column, column, "{query}: {e}");
            assert!(
                e.message
                    .contains("the fields are title:, text:, lang: and feed:"),
                "{e}"
            );
        }
        // Not fields: a URL, a time, a word and a colon, a Turkish suffix.
        for query in [
            "https://rudaw.net",
            "10:30",
            "Erbil: vote",
            "\"site:rudaw.net\"",
            "IKBY'nin",
        ] {
            assert!(parse(query).is_ok(), "{query}");
        }
    }

    #[test]
    fn near_distance_is_bounded() {
        ok("a NEAR/1000 b", "(a NEAR/1000 b)");
        err(
            "a NEAR/1001 b",
            "column 8: expected a distance from 1 to 1000 after NEAR/, found \"1001\"",
        );
        err(
            "a NEAR/100000 b",
            "column 8: expected a distance from 1 to 1000 after NEAR/, found \"100000\"",
        );
    }
}
