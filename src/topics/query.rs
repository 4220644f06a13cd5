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

use std::collections::HashMap;
use std::fmt;

use crate::text;

/// Named term sets usable as `@name`: name → alternatives.
pub type TermSets = HashMap<String, Vec<String>>;

/// Shortest prefix a wildcard may have, in characters.
pub const MIN_PREFIX_CHARS: usize = 2;

/// Where a match may occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    fn classify(&mut self, word: String, col: usize) -> Result<(), QueryError> {
        let lower_prefix = |p: &str| {
            word.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        };
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
                    Ok(n) if (1..=1000).contains(&n) => Tok::Near(n),
                    _ => {
                        return Err(QueryError::new(
                            col + 5,
                            format!("expected a distance from 1 to 1000 after NEAR/, found {n:?}"),
                        ))
                    }
                }
            }
            _ if lower_prefix("title:") || lower_prefix("text:") => {
                let (field, len) = if lower_prefix("title:") {
                    (Field::Title, 6)
                } else {
                    (Field::Text, 5)
                };
                self.toks.push((Tok::Scope(field), col));
                let rest = &word[len..];
                if !rest.is_empty() {
                    self.classify(rest.to_string(), col + len)?;
                }
                return Ok(());
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

/// Parses a query without term sets.
pub fn parse(input: &str) -> Result<Expr, QueryError> {
    parse_with(input, &TermSets::new())
}

/// Parses a query; `@name` refers to `sets`.
pub fn parse_with(input: &str, sets: &TermSets) -> Result<Expr, QueryError> {
    let toks = Lexer::run(input)?;
    if toks.is_empty() {
        return Err(QueryError::new(1, "the query is empty"));
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        end_column: input.chars().count() + 1,
        sets,
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
}

impl Parser<'_> {
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

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut children = vec![self.and()?];
        while matches!(self.peek(), Some((Tok::Or, _))) {
            self.pos += 1;
            children.push(self.and()?);
        }
        Ok(flatten(children, Expr::Or))
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
            Some((Tok::Not | Tok::Minus, _)) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
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
        if let Some((Tok::Scope(field), _)) = self.peek().cloned() {
            self.pos += 1;
            if matches!(self.peek(), Some((Tok::Scope(_), _))) {
                return Err(self.expected_here("a term, a phrase or '('"));
            }
            let mut inner = self.scoped()?;
            scope(&mut inner, field);
            return Ok(inner);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let expected = "a term, a phrase or '('";
        match self.peek().cloned() {
            Some((Tok::LParen, open)) => {
                self.pos += 1;
                let inner = self.or()?;
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
                phrase_expr(&word, col, "term")
            }
            Some((Tok::Phrase(phrase), col)) => {
                self.pos += 1;
                phrase_expr(&phrase, col, "phrase")
            }
            Some((Tok::Lang(code), _)) => {
                self.pos += 1;
                Ok(Expr::Lang(code))
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

    fn term_set(&self, name: &str, col: usize) -> Result<Expr, QueryError> {
        let Some(terms) = self.sets.get(name) else {
            let mut known: Vec<&str> = self.sets.keys().map(String::as_str).collect();
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
                phrase_expr(t, col, "term")
                    .map_err(|e| QueryError::new(col, format!("in @{name}: {}", e.message)))
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
        let mut folded = text::words(body);
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
    Ok(Expr::Match {
        field: Field::Any,
        words,
    })
}

/// Builds an AND/OR node, splicing in children of the same kind
/// (`a OR (b OR c)` is one OR of three), or returns a lone child as is.
fn flatten(children: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    let mut flat = Vec::with_capacity(children.len());
    let is_same = |e: &Expr| match make(Vec::new()) {
        Expr::And(_) => matches!(e, Expr::And(_)),
        _ => matches!(e, Expr::Or(_)),
    };
    for child in children {
        if is_same(&child) {
            if let Expr::And(inner) | Expr::Or(inner) = child {
                flat.extend(inner);
            }
        } else {
            flat.push(child);
        }
    }
    if flat.len() == 1 {
        flat.pop().expect("one child")
    } else {
        make(flat)
    }
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
        ok("Kurdistan's", "\"kurdistan s\"");
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
        ok("Kurdistan's ref*", "(\"kurdistan s\" AND ref*)");
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
        ok("referendum lang:FA-ir", "(referendum AND lang:fa-ir)");
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
}
