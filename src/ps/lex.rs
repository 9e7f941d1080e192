//! PowerShell's tokens, as far as the MSOnline/AzureAD lines admins paste use them: bare words
//! and `-Parameters` (`-Name:value` too), `'single'` (with `''`) and `"double"` strings
//! (backtick escapes, `$variables` expanded later), `$variables` with `.Property`, numbers,
//! `@(`, `(`, `)`, `{`, `}`, `,`, `|`, `=`, `;` and new lines; `#` and `<# … #>` comments; a
//! backtick at the end of a line continues it.

use super::{PsError, Span};

/// A piece of a double-quoted string: text, or a variable to expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// `$name` or `$name.Prop`.
    Var {
        name: String,
        props: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A bare word: a cmdlet name, an unquoted argument.
    Word(String),
    /// `-Name`, with the `:value` glued to it when written so (the value follows as its own
    /// token, `glued` says it was attached).
    Param {
        name: String,
        glued: bool,
    },
    /// `'…'`: no expansion.
    Literal(String),
    /// `"…"`: expandable.
    Expandable(Vec<Part>),
    Var {
        name: String,
        props: Vec<String>,
    },
    Number(i64),
    /// `@(`
    ArrayOpen,
    /// `$(` (a sub-expression: refused by the parser, named here for its message)
    SubExpr,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Pipe,
    Assign,
    /// `;` or a new line.
    End,
    /// `&`, `>`, `2>` and the like: refused by name.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

struct Lexer<'a> {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    _src: &'a str,
}

fn is_word_end(c: char) -> bool {
    c.is_whitespace() || "(){},;|=\"'`".contains(c)
}

fn is_dash(c: char) -> bool {
    // PowerShell accepts the en and em dashes (and the horizontal bar) pasted from documents.
    matches!(c, '-' | '\u{2013}' | '\u{2014}' | '\u{2015}')
}

fn is_quote(c: char) -> (bool, bool) {
    // Single quotes and their typographic forms; double likewise.
    (
        matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}'),
        matches!(c, '"' | '\u{201c}' | '\u{201d}' | '\u{201e}'),
    )
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.i + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn span(&self) -> Span {
        Span {
            line: self.line,
            col: self.col,
        }
    }

    fn err(&self, at: Span, message: impl Into<String>) -> PsError {
        PsError::new(at, message)
    }

    /// `<# … #>`
    fn block_comment(&mut self, at: Span) -> Result<(), PsError> {
        self.bump();
        self.bump();
        loop {
            match self.bump() {
                Some('#') if self.peek() == Some('>') => {
                    self.bump();
                    return Ok(());
                }
                Some(_) => {}
                None => return Err(self.err(at, "a <# comment is not closed with #>")),
            }
        }
    }

    /// A name: letters, digits and `_`.
    fn ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || c == '_' {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        s
    }

    /// A `$name` with `.Prop`s (the `$` already read).
    fn variable(&mut self) -> (String, Vec<String>) {
        let name = self.ident();
        let mut props = Vec::new();
        while self.peek() == Some('.')
            && self
                .peek_at(1)
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        {
            self.bump();
            props.push(self.ident());
        }
        (name, props)
    }

    /// `'…'` with `''` for a quote (the opening quote already read).
    fn literal(&mut self, at: Span) -> Result<Tok, PsError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                Some(c) if is_quote(c).0 => {
                    if self.peek().is_some_and(|n| is_quote(n).0) {
                        self.bump();
                        s.push('\'');
                    } else {
                        return Ok(Tok::Literal(s));
                    }
                }
                Some(c) => s.push(c),
                None => return Err(self.err(at, "a '…' string is not closed")),
            }
        }
    }

    /// `"…"` with backtick escapes, `""` for a quote and `$variables` (the opening quote
    /// already read).
    fn expandable(&mut self, at: Span) -> Result<Tok, PsError> {
        let mut parts = Vec::new();
        let mut s = String::new();
        loop {
            match self.bump() {
                Some(c) if is_quote(c).1 => {
                    if self.peek().is_some_and(|n| is_quote(n).1) {
                        self.bump();
                        s.push('"');
                    } else {
                        if !s.is_empty() || parts.is_empty() {
                            parts.push(Part::Text(s));
                        }
                        return Ok(Tok::Expandable(parts));
                    }
                }
                Some('`') => match self.bump() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('0') => s.push('\0'),
                    Some('a') => s.push('\u{7}'),
                    Some('b') => s.push('\u{8}'),
                    Some('e') => s.push('\u{1b}'),
                    Some('f') => s.push('\u{c}'),
                    Some('v') => s.push('\u{b}'),
                    Some(c) => s.push(c),
                    None => return Err(self.err(at, "a \"…\" string is not closed")),
                },
                Some('$') if self.peek() == Some('(') => {
                    return Err(
                        self.err(at, "a sub-expression $(…) inside a string is not supported")
                    );
                }
                Some('$') if self.peek().is_some_and(|c| c.is_alphabetic() || c == '_') => {
                    if !s.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut s)));
                    }
                    // Inside a string PowerShell expands the variable alone: "$u.Mobile" is
                    // $u's value followed by ".Mobile" ("$($u.Mobile)" would be the property).
                    let name = self.ident();
                    parts.push(Part::Var {
                        name,
                        props: Vec::new(),
                    });
                }
                Some(c) => s.push(c),
                None => return Err(self.err(at, "a \"…\" string is not closed")),
            }
        }
    }

    /// `-Name`, or `-Name:` with its value to follow (the dash not yet read).
    fn param(&mut self) -> Tok {
        self.bump();
        let mut name = String::new();
        while let Some(n) = self.peek() {
            if n.is_alphanumeric() || n == '_' {
                name.push(n);
                self.bump();
            } else {
                break;
            }
        }
        let glued = self.peek() == Some(':');
        if glued {
            self.bump();
        }
        Tok::Param { name, glued }
    }

    fn word(&mut self, first: char) -> String {
        let mut s = String::from(first);
        while let Some(c) = self.peek() {
            if is_word_end(c) || is_quote(c).0 || is_quote(c).1 {
                break;
            }
            s.push(c);
            self.bump();
        }
        s
    }

    fn next(&mut self) -> Result<Option<Token>, PsError> {
        loop {
            let at = self.span();
            let Some(c) = self.peek() else {
                return Ok(None);
            };
            let tok = match c {
                '\n' | ';' => {
                    self.bump();
                    Tok::End
                }
                c if c.is_whitespace() => {
                    self.bump();
                    continue;
                }
                '`' if matches!(self.peek_at(1), Some('\n')) => {
                    self.bump();
                    self.bump();
                    continue;
                }
                '`' if matches!((self.peek_at(1), self.peek_at(2)), (Some('\r'), Some('\n'))) => {
                    self.bump();
                    self.bump();
                    self.bump();
                    continue;
                }
                '<' if self.peek_at(1) == Some('#') => {
                    self.block_comment(at)?;
                    continue;
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                    continue;
                }
                '@' if self.peek_at(1) == Some('(') => {
                    self.bump();
                    self.bump();
                    Tok::ArrayOpen
                }
                '$' if self.peek_at(1) == Some('(') => {
                    self.bump();
                    self.bump();
                    Tok::SubExpr
                }
                '$' if self
                    .peek_at(1)
                    .is_some_and(|c| c.is_alphabetic() || c == '_') =>
                {
                    self.bump();
                    let (name, props) = self.variable();
                    Tok::Var { name, props }
                }
                '(' | ')' | '{' | '}' | ',' | '|' | '=' => {
                    self.bump();
                    match c {
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        '{' => Tok::LBrace,
                        '}' => Tok::RBrace,
                        ',' => Tok::Comma,
                        '|' => Tok::Pipe,
                        _ => Tok::Assign,
                    }
                }
                c if is_quote(c).0 => {
                    self.bump();
                    self.literal(at)?
                }
                c if is_quote(c).1 => {
                    self.bump();
                    self.expandable(at)?
                }
                c if is_dash(c)
                    && self
                        .peek_at(1)
                        .is_some_and(|n| n.is_alphabetic() || n == '_') =>
                {
                    self.param()
                }
                '&' | '>' | '<' => {
                    self.bump();
                    Tok::Other(c.to_string())
                }
                c => {
                    self.bump();
                    let w = self.word(c);
                    match w.parse::<i64>() {
                        Ok(n) if c.is_ascii_digit() => Tok::Number(n),
                        _ => Tok::Word(w),
                    }
                }
            };
            return Ok(Some(Token { tok, span: at }));
        }
    }
}

/// The tokens of `src`.
pub fn tokens(src: &str) -> Result<Vec<Token>, PsError> {
    let mut l = Lexer {
        chars: src.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
        _src: src,
    };
    let mut out = Vec::new();
    while let Some(t) = l.next()? {
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokens(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn the_pre_population_guide_lines_tokenize() {
        assert_eq!(
            toks(
                r#"Set-MsolUser -UserPrincipalName user@domain.com -AlternateEmailAddresses @("email@domain.com")"#
            ),
            [
                Tok::Word("Set-MsolUser".into()),
                Tok::Param {
                    name: "UserPrincipalName".into(),
                    glued: false
                },
                Tok::Word("user@domain.com".into()),
                Tok::Param {
                    name: "AlternateEmailAddresses".into(),
                    glued: false
                },
                Tok::ArrayOpen,
                Tok::Expandable(vec![Part::Text("email@domain.com".into())]),
                Tok::RParen,
            ]
        );
        assert_eq!(
            toks(
                "Get-MsolUser | select -Expand StrongAuthenticationUserDetails | select PhoneNumber"
            ),
            [
                Tok::Word("Get-MsolUser".into()),
                Tok::Pipe,
                Tok::Word("select".into()),
                Tok::Param {
                    name: "Expand".into(),
                    glued: false
                },
                Tok::Word("StrongAuthenticationUserDetails".into()),
                Tok::Pipe,
                Tok::Word("select".into()),
                Tok::Word("PhoneNumber".into()),
            ]
        );
    }

    #[test]
    fn strings_comments_continuations_and_variables() {
        assert_eq!(
            toks(
                "'it''s' \"a `\"b`\" \"\"c\"\" $u.Mobile!\" # comment\n<# block\n#> -All:$true `\n x"
            ),
            [
                Tok::Literal("it's".into()),
                Tok::Expandable(vec![
                    Part::Text("a \"b\" \"c\" ".into()),
                    // In a string the variable alone expands, as in PowerShell.
                    Part::Var {
                        name: "u".into(),
                        props: vec![]
                    },
                    Part::Text(".Mobile!".into()),
                ]),
                Tok::End,
                Tok::Param {
                    name: "All".into(),
                    glued: true
                },
                Tok::Var {
                    name: "true".into(),
                    props: vec![]
                },
                Tok::Word("x".into()),
            ]
        );
        // Typographic quotes and dashes pasted from documents.
        assert_eq!(
            toks("Set-MsolUser \u{2013}MobilePhone \u{201c}+1 4255550100\u{201d}"),
            [
                Tok::Word("Set-MsolUser".into()),
                Tok::Param {
                    name: "MobilePhone".into(),
                    glued: false
                },
                Tok::Expandable(vec![Part::Text("+1 4255550100".into())]),
            ]
        );
        let e = tokens("Set-MsolUser -MobilePhone \"+1 425").unwrap_err();
        assert_eq!((e.at.line, e.at.col), (1, 27));
        assert_eq!(e.message, "a \"…\" string is not closed");
    }
}
