//! Statements from tokens: pipelines of commands (`A | B | C`), `$x = pipeline`, and
//! `foreach ($u in pipeline) { … }`. Arguments stay a flat list of `-Param`s and values: which
//! parameter takes a value is the cmdlet's business (see `translate`).

use super::lex::{Part, Tok, Token};
use super::{PsError, Span};

/// A value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A bare word or a `'…'` string.
    Text(String),
    /// A `"…"` string, expanded when run.
    Expand(Vec<Part>),
    Var {
        name: String,
        props: Vec<String>,
    },
    Number(i64),
    /// `a, b` or `@(a, b)`.
    List(Vec<Value>),
    /// `{ … }`
    Block(Vec<Statement>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `-Name`, with its `:value` when written so.
    Param {
        name: String,
        value: Option<Value>,
        span: Span,
    },
    Value {
        value: Value,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub name: String,
    pub span: Span,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    Pipeline(Vec<Command>),
    /// `$name = pipeline`
    Assign {
        name: String,
        span: Span,
        pipeline: Vec<Command>,
    },
    /// `foreach ($var in $source | pipeline) { body }`
    Foreach {
        var: String,
        span: Span,
        source: Source,
        body: Vec<Statement>,
    },
}

/// What a `foreach` loops over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Var(String),
    Pipeline(Vec<Command>),
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    end: Span,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn span(&self) -> Span {
        self.toks.get(self.i).map_or(self.end, |t| t.span)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn skip_ends(&mut self) {
        while self.peek() == Some(&Tok::End) {
            self.i += 1;
        }
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), PsError> {
        if self.peek() == Some(want) {
            self.i += 1;
            Ok(())
        } else {
            Err(PsError::new(self.span(), format!("expected {what} here")))
        }
    }

    /// Statements until the end, or until `}` when `in_block`.
    fn statements(&mut self, in_block: bool) -> Result<Vec<Statement>, PsError> {
        let mut out = Vec::new();
        loop {
            self.skip_ends();
            match self.peek() {
                None if in_block => {
                    return Err(PsError::new(self.span(), "a { block is not closed with }"));
                }
                None => return Ok(out),
                Some(Tok::RBrace) if in_block => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => out.push(self.statement()?),
            }
        }
    }

    fn statement(&mut self) -> Result<Statement, PsError> {
        let at = self.span();
        if let Some(Tok::Word(w)) = self.peek()
            && w.eq_ignore_ascii_case("foreach")
            && self.toks.get(self.i + 1).map(|t| &t.tok) == Some(&Tok::LParen)
        {
            return self.foreach(at);
        }
        if let Some(Tok::Var { name, props }) = self.peek()
            && props.is_empty()
            && self.toks.get(self.i + 1).map(|t| &t.tok) == Some(&Tok::Assign)
        {
            let name = name.clone();
            self.i += 2;
            let pipeline = self.pipeline(false)?;
            return Ok(Statement::Assign {
                name,
                span: at,
                pipeline,
            });
        }
        Ok(Statement::Pipeline(self.pipeline(false)?))
    }

    fn foreach(&mut self, at: Span) -> Result<Statement, PsError> {
        self.i += 2; // foreach (
        let var = match self.bump().map(|t| t.tok) {
            Some(Tok::Var { name, props }) if props.is_empty() => name,
            _ => return Err(PsError::new(at, "foreach needs ($variable in …)")),
        };
        match self.bump().map(|t| t.tok) {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => {}
            _ => return Err(PsError::new(at, "foreach needs ($variable in …)")),
        }
        let source = match (self.peek(), self.toks.get(self.i + 1).map(|t| &t.tok)) {
            (Some(Tok::Var { name, props }), Some(Tok::RParen)) if props.is_empty() => {
                let name = name.clone();
                self.i += 1;
                Source::Var(name)
            }
            _ => Source::Pipeline(self.pipeline(true)?),
        };
        self.expect(&Tok::RParen, "the ) closing foreach (…)")?;
        self.skip_ends();
        self.expect(&Tok::LBrace, "the foreach body in braces")?;
        let body = self.statements(true)?;
        Ok(Statement::Foreach {
            var,
            span: at,
            source,
            body,
        })
    }

    /// Commands joined by `|`, ending at a statement end (or `)` when `in_parens`).
    fn pipeline(&mut self, in_parens: bool) -> Result<Vec<Command>, PsError> {
        let mut cmds = vec![self.command(in_parens)?];
        while self.peek() == Some(&Tok::Pipe) {
            self.i += 1;
            self.skip_ends();
            cmds.push(self.command(in_parens)?);
        }
        Ok(cmds)
    }

    fn command(&mut self, in_parens: bool) -> Result<Command, PsError> {
        let at = self.span();
        let name = match self.bump().map(|t| t.tok) {
            Some(Tok::Word(w)) => w,
            // An expression statement (`$_.Prop -eq 'v'` in a Where-Object block): its
            // "name" is the variable, its arguments the comparison.
            Some(Tok::Var { name, props }) => std::iter::once(format!("${name}"))
                .chain(props)
                .collect::<Vec<_>>()
                .join("."),
            Some(Tok::Other(o)) => {
                return Err(PsError::new(
                    at,
                    format!(
                        "the operator {o} is not supported (only cmdlets and pipelines run here)"
                    ),
                ));
            }
            Some(Tok::SubExpr) => {
                return Err(PsError::new(at, "a sub-expression $(…) is not supported"));
            }
            Some(t) => {
                return Err(PsError::new(
                    at,
                    format!("expected a cmdlet name, found {}", describe(&t)),
                ));
            }
            None => return Err(PsError::new(at, "expected a cmdlet name")),
        };
        let mut args = Vec::new();
        loop {
            let span = self.span();
            match self.peek() {
                None | Some(Tok::End | Tok::Pipe | Tok::RBrace) => break,
                Some(Tok::RParen) if in_parens => break,
                Some(Tok::Param { name, glued }) => {
                    let (name, glued) = (name.clone(), *glued);
                    self.i += 1;
                    let value = if glued { Some(self.value()?) } else { None };
                    args.push(Arg::Param { name, value, span });
                }
                _ => {
                    let value = self.value()?;
                    args.push(Arg::Value { value, span });
                }
            }
        }
        Ok(Command {
            name,
            span: at,
            args,
        })
    }

    /// One value, or a comma list of them.
    fn value(&mut self) -> Result<Value, PsError> {
        let first = self.single()?;
        if self.peek() != Some(&Tok::Comma) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek() == Some(&Tok::Comma) {
            self.i += 1;
            items.push(self.single()?);
        }
        Ok(Value::List(items))
    }

    fn single(&mut self) -> Result<Value, PsError> {
        let at = self.span();
        let Some(t) = self.bump() else {
            return Err(PsError::new(at, "expected a value"));
        };
        Ok(match t.tok {
            Tok::Word(w) => Value::Text(w),
            Tok::Literal(s) => Value::Text(s),
            Tok::Expandable(p) => Value::Expand(p),
            Tok::Var { name, props } => Value::Var { name, props },
            Tok::Number(n) => Value::Number(n),
            Tok::ArrayOpen => {
                let mut items = Vec::new();
                loop {
                    self.skip_ends();
                    match self.peek() {
                        Some(Tok::RParen) => {
                            self.i += 1;
                            break;
                        }
                        Some(Tok::Comma) => {
                            self.i += 1;
                        }
                        None => return Err(PsError::new(at, "an @( array is not closed with )")),
                        _ => items.push(self.single()?),
                    }
                }
                Value::List(items)
            }
            Tok::LBrace => Value::Block(self.statements(true)?),
            Tok::SubExpr => {
                return Err(PsError::new(at, "a sub-expression $(…) is not supported"));
            }
            Tok::LParen => {
                return Err(PsError::new(
                    at,
                    "a parenthesised expression ( … ) is not supported as an argument",
                ));
            }
            other => {
                return Err(PsError::new(
                    at,
                    format!("expected a value, found {}", describe(&other)),
                ));
            }
        })
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Param { name, .. } => format!("-{name}"),
        Tok::Literal(_) | Tok::Expandable(_) => "a string".into(),
        Tok::Var { name, .. } => format!("${name}"),
        Tok::Number(n) => n.to_string(),
        Tok::ArrayOpen => "@(".into(),
        Tok::SubExpr => "$(".into(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::LBrace => "{".into(),
        Tok::RBrace => "}".into(),
        Tok::Comma => ",".into(),
        Tok::Pipe => "|".into(),
        Tok::Assign => "=".into(),
        Tok::End => "the end of the statement".into(),
        Tok::Other(o) => o.clone(),
    }
}

/// The statements of a script.
pub fn script(toks: Vec<Token>) -> Result<Vec<Statement>, PsError> {
    let end = toks.last().map_or(Span { line: 1, col: 1 }, |t| t.span);
    let mut p = Parser { toks, i: 0, end };
    p.statements(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::lex::tokens;

    fn parse(s: &str) -> Vec<Statement> {
        script(tokens(s).unwrap()).unwrap()
    }

    #[test]
    fn pipelines_lists_and_params() {
        let s = parse(
            "Get-MsolUser -UserPrincipalName:kim@c.com | select DisplayName,MobilePhone | ft",
        );
        let Statement::Pipeline(cmds) = &s[0] else {
            panic!()
        };
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0].name, "Get-MsolUser");
        assert!(
            matches!(&cmds[0].args[0], Arg::Param { name, value: Some(Value::Text(v)), .. }
            if name == "UserPrincipalName" && v == "kim@c.com")
        );
        assert!(
            matches!(&cmds[1].args[0], Arg::Value { value: Value::List(l), .. } if l.len() == 2)
        );
    }

    #[test]
    fn foreach_assignment_and_blocks() {
        let s = parse(
            "$rows = Import-Csv users.csv\nforeach ($u in $rows) {\n  Set-MsolUser -UserPrincipalName $u.UPN -MobilePhone $u.Mobile\n}",
        );
        assert!(matches!(&s[0], Statement::Assign { name, .. } if name == "rows"));
        let Statement::Foreach {
            var, source, body, ..
        } = &s[1]
        else {
            panic!()
        };
        assert_eq!(var, "u");
        assert_eq!(source, &Source::Var("rows".into()));
        assert_eq!(body.len(), 1);
        let s =
            parse("Import-Csv p.csv | ForEach-Object { Set-MsolUser -UserPrincipalName $_.UPN }");
        let Statement::Pipeline(cmds) = &s[0] else {
            panic!()
        };
        assert!(
            matches!(&cmds[1].args[0], Arg::Value { value: Value::Block(b), .. } if b.len() == 1)
        );
    }

    #[test]
    fn what_is_not_supported_is_named_where_it_is() {
        let e = script(tokens("Get-MsolUser\n  & calc.exe").unwrap()).unwrap_err();
        assert_eq!((e.at.line, e.at.col), (2, 3));
        assert_eq!(
            e.message,
            "the operator & is not supported (only cmdlets and pipelines run here)"
        );
        let e = script(tokens("Set-MsolUser -MobilePhone $(Get-Date)").unwrap()).unwrap_err();
        assert_eq!((e.at.line, e.at.col), (1, 27));
        let e = script(tokens("foreach ($u in $x) { Get-MsolUser").unwrap()).unwrap_err();
        assert_eq!(e.message, "a { block is not closed with }");
    }
}
