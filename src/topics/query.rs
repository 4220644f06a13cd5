//! The topic query language: lexer, parser and syntax tree.
//!
//! Grammar (operators are upper-case; lower-case `and`/`or`/`not` are words):
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*        adjacent terms mean AND
//! unary   := "NOT" unary | "-" unary | primary
//! primary := "(" or ")" | "\"" words "\"" | word
//! ```
//!
//! Words and phrases are folded with [`crate::text`], the same function
//! applied to article text. A term that folds to several words (`U.S.`,
//! `Kurdistan's`) is matched as a phrase.

use std::fmt;

use crate::text;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A sequence of folded words that must appear consecutively; a single
    /// word is a one-word phrase.
    Phrase(Vec<String>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    /// Whether a document can only match if it contains at least one word of
    /// this expression (i.e. the expression is not satisfied by absence).
    pub fn is_positive(&self) -> bool {
        match self {
            Expr::Phrase(_) => true,
            Expr::And(children) => children.iter().any(Expr::is_positive),
            Expr::Or(children) => children.iter().all(Expr::is_positive),
            Expr::Not(_) => false,
        }
    }
}

impl fmt::Display for Expr {
    /// Prints the query back in the query language (fully parenthesised).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Phrase(words) if words.len() == 1 => f.write_str(&words[0]),
            Expr::Phrase(words) => write!(f, "\"{}\"", words.join(" ")),
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
        }
    }
}

/// A token with its 1-based start column.
type Spanned = (Tok, usize);

fn lex(input: &str) -> Result<Vec<Spanned>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                toks.push((Tok::LParen, col));
                i += 1;
            }
            ')' => {
                toks.push((Tok::RParen, col));
                i += 1;
            }
            '"' | '“' | '”' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| matches!(c, '"' | '“' | '”'))
                    .map(|p| start + p)
                    .ok_or_else(|| {
                        QueryError::new(
                            chars.len() + 1,
                            format!("expected '\"' to close the phrase opened at column {col}"),
                        )
                    })?;
                toks.push((Tok::Phrase(chars[start..end].iter().collect()), col));
                i = end + 1;
            }
            '-' if toks_allow_prefix(&chars, i) => {
                toks.push((Tok::Minus, col));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '"' | '“' | '”')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let tok = match word.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(word),
                };
                toks.push((tok, col));
            }
        }
    }
    Ok(toks)
}

/// A `-` is the NOT prefix when it starts a token and is followed by
/// something to negate; elsewhere (`al-Abadi`) it is part of a word.
fn toks_allow_prefix(chars: &[char], i: usize) -> bool {
    let at_token_start = i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(';
    let followed = chars
        .get(i + 1)
        .is_some_and(|c| !c.is_whitespace() && *c != ')');
    at_token_start && followed
}

/// Parses a query string into an [`Expr`].
pub fn parse(input: &str) -> Result<Expr, QueryError> {
    let toks = lex(input)?;
    if toks.is_empty() {
        return Err(QueryError::new(1, "the query is empty"));
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        end_column: input.chars().count() + 1,
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
            "the query matches by absence alone; it needs at least one term that is not negated",
        ));
    }
    Ok(expr)
}

struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    end_column: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Spanned> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Spanned> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        tok
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
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let previous = self
            .pos
            .checked_sub(1)
            .and_then(|p| self.toks.get(p))
            .map(|(t, _)| t.describe());
        let expected = |what: Option<String>| match what {
            Some(after) => format!("expected a term, a phrase or '(' after {after}"),
            None => "expected a term, a phrase or '('".to_string(),
        };
        match self.next() {
            Some((Tok::LParen, open)) => {
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
            Some((Tok::Word(word), col)) => words_expr(&word, col, "term"),
            Some((Tok::Phrase(phrase), col)) => words_expr(&phrase, col, "phrase"),
            Some((_, col)) => Err(QueryError::new(col, expected(previous))),
            None => Err(QueryError::new(self.end_column, expected(previous))),
        }
    }
}

fn words_expr(raw: &str, col: usize, what: &str) -> Result<Expr, QueryError> {
    let words = text::words(raw);
    if words.is_empty() {
        return Err(QueryError::new(
            col,
            format!("the {what} {raw:?} contains no letters or digits"),
        ));
    }
    Ok(Expr::Phrase(words))
}

fn flatten(mut children: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if children.len() == 1 {
        children.pop().expect("one child")
    } else {
        make(children)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str, expected: &str) {
        let expr = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(expr.to_string(), expected, "parse({input:?})");
        // Printing re-parses to the same tree.
        assert_eq!(
            parse(&expr.to_string()).unwrap(),
            expr,
            "round trip of {input:?}"
        );
    }

    fn err(input: &str, expected: &str) {
        let e = parse(input).expect_err(input);
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
        ok("a AND b OR c", "((a AND b) OR c)");
        ok("referendum NOT football", "(referendum AND NOT football)");
        ok("referendum -football", "(referendum AND NOT football)");
        ok("\"Hulusi Akar\" Tehran", "(\"hulusi akar\" AND tehran)");
        ok("“Hulusi Akar”", "\"hulusi akar\"");
        ok("Kurdistan's", "\"kurdistan s\"");
        ok("al-Abadi", "\"al abadi\"");
        ok("and or not", "(and AND or AND not)");
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
            "column 1: the query matches by absence alone; it needs at least one term that is not negated",
        );
        err(
            "a OR -b",
            "column 1: the query matches by absence alone; it needs at least one term that is not negated",
        );
    }
}
