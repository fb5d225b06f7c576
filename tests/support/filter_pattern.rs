//! CloudWatch Logs' JSON filter patterns, as its documentation defines them, for tests: the
//! local AWS server does not evaluate JSON patterns (moto matches every event) and has no
//! TestMetricFilter. Source: CloudWatch Logs User Guide, "Filter pattern syntax for metric
//! filters" (JSON log events): `{ SELECTOR = STRING }`, `!=`, `*` matching any text at the start
//! or end of a string ("Ev*ent will only match the actual string Ev*ent"), `IS NULL`,
//! `NOT EXISTS`, `&&` and `||` with parentheses, `&&` binding tighter; a selector that points at
//! an object or array, or at nothing, never equals a string.

use serde_json::Value;

#[derive(Debug)]
enum Expr {
    Equals { selector: String, value: String, negate: bool },
    NotExists(String),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// Whether the JSON `event` matches `pattern`; `Err` for a pattern this evaluator (and so,
/// by the documented grammar, CloudWatch Logs) does not parse.
pub fn matches(pattern: &str, event: &Value) -> Result<bool, String> {
    let inner = pattern.trim().strip_prefix('{').and_then(|p| p.strip_suffix('}')).ok_or("not a JSON pattern")?;
    let tokens = tokenize(inner)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(format!("unexpected {:?}", parser.tokens[parser.at]));
    }
    Ok(eval(&expr, event))
}

fn select<'a>(event: &'a Value, selector: &str) -> Option<&'a Value> {
    let path = selector.strip_prefix("$.")?;
    let mut current = event;
    for part in path.split('.') {
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, rest)| (n, rest));
        current = current.get(name)?;
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            current = current.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(current)
}

fn wildcard(pattern: &str, text: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        _ if pattern == "*" => true,
        (Some(rest), _) if rest.ends_with('*') => text.contains(&rest[..rest.len() - 1]),
        (Some(rest), _) => text.ends_with(rest),
        (None, Some(head)) => text.starts_with(head),
        (None, None) => text == pattern,
    }
}

fn eval(expr: &Expr, event: &Value) -> bool {
    match expr {
        Expr::Equals { selector, value, negate } => match select(event, selector) {
            Some(Value::String(text)) => wildcard(value, text) != *negate,
            Some(Value::Number(n)) => (n.to_string() == *value) != *negate,
            _ => false,
        },
        Expr::NotExists(selector) => select(event, selector).is_none(),
        Expr::And(a, b) => eval(a, event) && eval(b, event),
        Expr::Or(a, b) => eval(a, event) || eval(b, event),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Eq,
    Ne,
    Word(String),
    Quoted(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            ' ' => i += 1,
            '(' => (tokens.push(Token::Open), i += 1).1,
            ')' => (tokens.push(Token::Close), i += 1).1,
            '&' if next == Some('&') => (tokens.push(Token::And), i += 2).1,
            '|' if next == Some('|') => (tokens.push(Token::Or), i += 2).1,
            '=' => (tokens.push(Token::Eq), i += 1).1,
            '!' if next == Some('=') => (tokens.push(Token::Ne), i += 2).1,
            '"' => {
                let end = chars[i + 1..].iter().position(|c| *c == '"').ok_or("unterminated string")? + i + 1;
                tokens.push(Token::Quoted(chars[i + 1..end].iter().collect()));
                i = end + 1;
            }
            _ => {
                let end = chars[i..].iter().position(|c| " ()=!\"".contains(*c)).map_or(chars.len(), |p| p + i);
                tokens.push(Token::Word(chars[i..end].iter().collect()));
                i = end;
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    other => Err(format!("expected ), got {other:?}")),
                }
            }
            Some(Token::Word(selector)) if selector.starts_with("$.") => match self.next() {
                Some(op @ (Token::Eq | Token::Ne)) => match self.next() {
                    Some(Token::Quoted(value) | Token::Word(value)) => {
                        if value.len() > 2 && value[1..value.len() - 1].contains('*') {
                            return Err(format!("* inside {value:?} matches only itself"));
                        }
                        Ok(Expr::Equals { selector, value, negate: op == Token::Ne })
                    }
                    other => Err(format!("expected a value, got {other:?}")),
                },
                Some(Token::Word(not)) if not == "NOT" => match self.next() {
                    Some(Token::Word(exists)) if exists == "EXISTS" => Ok(Expr::NotExists(selector)),
                    other => Err(format!("expected EXISTS, got {other:?}")),
                },
                other => Err(format!("expected an operator, got {other:?}")),
            },
            other => Err(format!("expected a condition, got {other:?}")),
        }
    }
}
