//! The formula language of scenario files: initial conditions, diffusivities, sources,
//! potentials and velocity models written as expressions of the coordinates.
//!
//! A formula is parsed once into an [`Expr`] tree (named constants are folded in at parse
//! time) and evaluated per grid point at setup only, never inside a time step.
//!
//! - variables: `x`, `y`, `r = sqrt(x^2 + y^2)`, `t`, and the scenario's `[constants]`;
//! - the constant `pi`;
//! - operators `+ - * / ^` (`^` binds tighter than unary minus and is right-associative:
//!   `-x^2 = -(x^2)`, `2^3^2 = 2^9`), parentheses;
//! - functions of one argument: `exp log sqrt abs sin cos tan tanh sinh cosh atan floor ceil`,
//!   `step(s)` and its alias `heaviside(s)` (1 for `s >= 0`, else 0); of two arguments:
//!   `min max atan2 pow`.
//!
//! Errors point at the column (counted from 1) where the problem starts. A formula holds at
//! most [`MAX_FORMULA_CHARS`] characters and nests at most [`MAX_NESTING`] levels deep
//! (parentheses, function calls, signs and powers): parsing and evaluation recurse over the
//! tree, and these bounds keep that recursion far inside any thread's stack.
//!
//! ```
//! use convsim_scenario::expr::{Expr, Vars};
//! let e = Expr::parse("exp(-r^2 / (2*s^2))", &[("s", 0.5)]).unwrap();
//! let v = e.eval(&Vars { x: 0.3, y: 0.4, t: 0.0 });
//! assert!((v - (-0.25f64 / 0.5).exp()).abs() < 1e-15);
//! let err = Expr::parse("exp(-x^2 / sigmaa)", &[("sigma", 1.0)]).unwrap_err();
//! assert_eq!(err.column, 12);
//! ```

use std::fmt;

/// Values of the free variables at one point.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vars {
    /// Column coordinate.
    pub x: f64,
    /// Row coordinate.
    pub y: f64,
    /// Time (0 at setup).
    pub t: f64,
}

/// A parse error: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// Column of the problem, counted from 1 in characters.
    pub column: usize,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ExprError {}

/// Deepest nesting a formula may have: each parenthesis, function call, sign and power opens
/// one level (`exp(-(x^2))` is 4 deep). Real formulas use a handful.
pub const MAX_NESTING: usize = 64;
/// Longest formula, in characters. A chain `a + b + c + ...` is a tree as deep as it is long,
/// so the length bounds the depth of evaluation too (about 2,000 levels).
pub const MAX_FORMULA_CHARS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    X,
    Y,
    R,
    T,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fun1 {
    Exp,
    Log,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sinh,
    Cosh,
    Atan,
    Floor,
    Ceil,
    Step,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fun2 {
    Min,
    Max,
    Atan2,
    Pow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Num(f64),
    Var(Var),
    Neg(Box<Node>),
    Bin(Op, Box<Node>, Box<Node>),
    F1(Fun1, Box<Node>),
    F2(Fun2, Box<Node>, Box<Node>),
}

/// A parsed formula. Displays as the source text it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    source: String,
    root: Node,
}

const FUNCS1: &[(&str, Fun1)] = &[
    ("exp", Fun1::Exp),
    ("log", Fun1::Log),
    ("sqrt", Fun1::Sqrt),
    ("abs", Fun1::Abs),
    ("sin", Fun1::Sin),
    ("cos", Fun1::Cos),
    ("tan", Fun1::Tan),
    ("tanh", Fun1::Tanh),
    ("sinh", Fun1::Sinh),
    ("cosh", Fun1::Cosh),
    ("atan", Fun1::Atan),
    ("floor", Fun1::Floor),
    ("ceil", Fun1::Ceil),
    ("step", Fun1::Step),
    ("heaviside", Fun1::Step),
];
const FUNCS2: &[(&str, Fun2)] = &[
    ("min", Fun2::Min),
    ("max", Fun2::Max),
    ("atan2", Fun2::Atan2),
    ("pow", Fun2::Pow),
];
/// Names that are not available as scenario constants (variables, `pi`, function names).
pub const RESERVED: &[&str] = &[
    "x",
    "y",
    "r",
    "t",
    "pi",
    "exp",
    "log",
    "sqrt",
    "abs",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sinh",
    "cosh",
    "atan",
    "floor",
    "ceil",
    "step",
    "heaviside",
    "min",
    "max",
    "atan2",
    "pow",
];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Sym(char),
    End,
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    consts: &'a [(&'a str, f64)],
    /// Current nesting depth (see [`MAX_NESTING`]).
    depth: usize,
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // Exponent: 1e-3, 2.5E+4.
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let v: f64 = text.parse().map_err(|_| ExprError {
                column: col,
                message: format!("malformed number `{text}`"),
            })?;
            out.push((Tok::Num(v), col));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), col));
        } else if "+-*/^(),".contains(c) {
            out.push((Tok::Sym(c), col));
            i += 1;
        } else {
            return Err(ExprError {
                column: col,
                message: format!(
                    "unexpected character `{c}`; allowed: numbers, names, + - * / ^ ( ) ,"
                ),
            });
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn col(&self) -> usize {
        self.toks[self.pos].1
    }
    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn err<T>(&self, message: String) -> Result<T, ExprError> {
        Err(ExprError {
            column: self.col(),
            message,
        })
    }
    fn expect(&mut self, c: char) -> Result<(), ExprError> {
        if *self.peek() == Tok::Sym(c) {
            self.bump();
            Ok(())
        } else {
            let found = describe(self.peek());
            self.err(format!("expected `{c}`, found {found}"))
        }
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        let mut lhs = self.term()?;
        loop {
            let op = match self.peek() {
                Tok::Sym('+') => Op::Add,
                Tok::Sym('-') => Op::Sub,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.term()?;
            lhs = Node::Bin(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn term(&mut self) -> Result<Node, ExprError> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Sym('*') => Op::Mul,
                Tok::Sym('/') => Op::Div,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.unary()?;
            lhs = Node::Bin(op, Box::new(lhs), Box::new(rhs));
        }
    }

    /// Every recursion of the grammar (parentheses, arguments, signs, exponents) passes through
    /// here, so the depth is counted once per level.
    fn unary(&mut self) -> Result<Node, ExprError> {
        if self.depth >= MAX_NESTING {
            return self.err(format!(
                "the formula nests more than {MAX_NESTING} levels deep (parentheses, function calls, signs and powers); allowed: at most {MAX_NESTING}"
            ));
        }
        self.depth += 1;
        let node = self.unary_inner();
        self.depth -= 1;
        node
    }

    fn unary_inner(&mut self) -> Result<Node, ExprError> {
        match self.peek() {
            Tok::Sym('-') => {
                self.bump();
                Ok(Node::Neg(Box::new(self.unary()?)))
            }
            Tok::Sym('+') => {
                self.bump();
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Node, ExprError> {
        let base = self.atom()?;
        if *self.peek() == Tok::Sym('^') {
            self.bump();
            // Right-associative, and the exponent may carry its own sign: 2^-1.
            let exp = self.unary()?;
            return Ok(Node::Bin(Op::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Node, ExprError> {
        let (tok, col) = self.bump();
        match tok {
            Tok::Num(v) => Ok(Node::Num(v)),
            Tok::Sym('(') => {
                let e = self.expr()?;
                self.expect(')')?;
                Ok(e)
            }
            Tok::Ident(name) => self.name(&name, col),
            other => Err(ExprError {
                column: col,
                message: format!(
                    "expected a number, a name or `(`, found {}",
                    describe(&other)
                ),
            }),
        }
    }

    fn name(&mut self, name: &str, col: usize) -> Result<Node, ExprError> {
        if let Some(&(_, f)) = FUNCS1.iter().find(|(n, _)| *n == name) {
            self.expect('(')?;
            let a = self.expr()?;
            if *self.peek() == Tok::Sym(',') {
                return self.err(format!("`{name}` takes one argument"));
            }
            self.expect(')')?;
            return Ok(Node::F1(f, Box::new(a)));
        }
        if let Some(&(_, f)) = FUNCS2.iter().find(|(n, _)| *n == name) {
            self.expect('(')?;
            let a = self.expr()?;
            if *self.peek() != Tok::Sym(',') {
                return self.err(format!("`{name}` takes two arguments separated by `,`"));
            }
            self.bump();
            let b = self.expr()?;
            self.expect(')')?;
            return Ok(Node::F2(f, Box::new(a), Box::new(b)));
        }
        let node = match name {
            "x" => Node::Var(Var::X),
            "y" => Node::Var(Var::Y),
            "r" => Node::Var(Var::R),
            "t" => Node::Var(Var::T),
            "pi" => Node::Num(std::f64::consts::PI),
            _ => {
                if let Some(&(_, v)) = self.consts.iter().find(|(n, _)| *n == name) {
                    Node::Num(v)
                } else {
                    let mut known: Vec<&str> = vec!["x", "y", "r", "t", "pi"];
                    known.extend(self.consts.iter().map(|(n, _)| *n));
                    return Err(ExprError {
                        column: col,
                        message: format!(
                            "unknown name `{name}`; allowed: {}, [constants] of the scenario, and the functions {}",
                            known.join(", "),
                            FUNCS1
                                .iter()
                                .map(|(n, _)| *n)
                                .chain(FUNCS2.iter().map(|(n, _)| *n))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                    });
                }
            }
        };
        if *self.peek() == Tok::Sym('(') {
            return self.err(format!("`{name}` is not a function"));
        }
        Ok(node)
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("number `{v}`"),
        Tok::Ident(n) => format!("name `{n}`"),
        Tok::Sym(c) => format!("`{c}`"),
        Tok::End => "the end of the formula".into(),
    }
}

impl Expr {
    /// Parses `source`; `consts` are the named constants it may use (folded in now).
    ///
    /// # Errors
    /// An [`ExprError`] with the column of the first problem.
    pub fn parse(source: &str, consts: &[(&str, f64)]) -> Result<Expr, ExprError> {
        let chars = source.chars().count();
        if chars > MAX_FORMULA_CHARS {
            return Err(ExprError {
                column: MAX_FORMULA_CHARS + 1,
                message: format!(
                    "the formula is {chars} characters long; allowed: at most {MAX_FORMULA_CHARS} (use [constants] or an input dataset for long expressions)"
                ),
            });
        }
        let mut p = Parser {
            toks: lex(source)?,
            pos: 0,
            consts,
            depth: 0,
        };
        if *p.peek() == Tok::End {
            return p.err("empty formula".into());
        }
        let root = p.expr()?;
        if *p.peek() != Tok::End {
            let found = describe(p.peek());
            return p.err(format!(
                "unexpected {found}; expected an operator + - * / ^ or the end"
            ));
        }
        Ok(Expr {
            source: source.to_string(),
            root,
        })
    }

    /// The formula as written.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `true` if the formula uses `t`.
    #[must_use]
    pub fn uses_time(&self) -> bool {
        fn walk(n: &Node) -> bool {
            match n {
                Node::Num(_) => false,
                Node::Var(v) => *v == Var::T,
                Node::Neg(a) | Node::F1(_, a) => walk(a),
                Node::Bin(_, a, b) | Node::F2(_, a, b) => walk(a) || walk(b),
            }
        }
        walk(&self.root)
    }

    /// Value at one point.
    #[must_use]
    pub fn eval(&self, v: &Vars) -> f64 {
        eval(&self.root, v)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn eval(n: &Node, v: &Vars) -> f64 {
    match n {
        Node::Num(c) => *c,
        Node::Var(Var::X) => v.x,
        Node::Var(Var::Y) => v.y,
        Node::Var(Var::R) => v.x.hypot(v.y),
        Node::Var(Var::T) => v.t,
        Node::Neg(a) => -eval(a, v),
        Node::Bin(op, a, b) => {
            let (a, b) = (eval(a, v), eval(b, v));
            match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div => a / b,
                Op::Pow => pow(a, b),
            }
        }
        Node::F1(f, a) => {
            let a = eval(a, v);
            match f {
                Fun1::Exp => a.exp(),
                Fun1::Log => a.ln(),
                Fun1::Sqrt => a.sqrt(),
                Fun1::Abs => a.abs(),
                Fun1::Sin => a.sin(),
                Fun1::Cos => a.cos(),
                Fun1::Tan => a.tan(),
                Fun1::Tanh => a.tanh(),
                Fun1::Sinh => a.sinh(),
                Fun1::Cosh => a.cosh(),
                Fun1::Atan => a.atan(),
                Fun1::Floor => a.floor(),
                Fun1::Ceil => a.ceil(),
                Fun1::Step => {
                    if a >= 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                }
            }
        }
        Node::F2(f, a, b) => {
            let (a, b) = (eval(a, v), eval(b, v));
            match f {
                Fun2::Min => a.min(b),
                Fun2::Max => a.max(b),
                Fun2::Atan2 => a.atan2(b),
                Fun2::Pow => pow(a, b),
            }
        }
    }
}

/// Small integer powers exactly (x^2 is x*x, as users expect), others through `powf`.
fn pow(a: f64, b: f64) -> f64 {
    if b == b.trunc() && b.abs() <= 64.0 {
        a.powi(b as i32)
    } else {
        a.powf(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> f64 {
        Expr::parse(s, &[("a", 2.0)]).unwrap().eval(&Vars {
            x: 3.0,
            y: 4.0,
            t: 0.5,
        })
    }

    #[test]
    fn precedence_and_associativity() {
        // Each value is worked out by hand; exact because every intermediate is a small integer
        // or a power of two.
        assert_eq!(ev("1 + 2 * 3"), 7.0);
        assert_eq!(ev("(1 + 2) * 3"), 9.0);
        assert_eq!(ev("-x^2"), -9.0);
        assert_eq!(ev("2^3^2"), 512.0);
        assert_eq!(ev("2^-1"), 0.5);
        assert_eq!(ev("8 / 4 / 2"), 1.0);
        assert_eq!(ev("10 - 4 - 3"), 3.0);
        assert_eq!(ev("r"), 5.0);
        assert_eq!(ev("a * t"), 1.0);
        assert_eq!(ev("1.5e1 + .5"), 15.5);
        assert_eq!(ev("--1"), 1.0);
    }

    #[test]
    fn functions() {
        assert_eq!(ev("min(x, y) + max(x, y)"), 7.0);
        assert_eq!(ev("step(x - 3) + heaviside(-1)"), 1.0);
        assert_eq!(ev("abs(-2) * sqrt(16)"), 8.0);
        assert!((ev("exp(log(7))") - 7.0).abs() < 1e-14);
        assert!((ev("sin(pi/2) + cos(0) + tanh(0)") - 2.0).abs() < 1e-15);
        assert_eq!(ev("pow(y, 2)"), 16.0);
        assert!((ev("atan2(1, 1)") - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = |s: &str| Expr::parse(s, &[("sigma", 1.0)]).unwrap_err();
        let u = e("exp(-x^2/sigmaa)");
        assert_eq!(u.column, 10);
        assert!(u.message.contains("unknown name `sigmaa`"), "{u}");
        assert!(u.message.contains("sigma"), "{u}");
        assert_eq!(e("1 + ").column, 5);
        assert_eq!(e("(1 + 2").column, 7);
        assert!(e("(1 + 2").message.contains("expected `)`"));
        assert_eq!(e("1 $ 2").column, 3);
        assert_eq!(e("min(1)").column, 6);
        assert!(e("exp(1, 2)").message.contains("one argument"));
        assert!(e("x(2)").message.contains("not a function"));
        assert_eq!(e("1 2").column, 3);
        assert_eq!(e("").message, "empty formula");
    }

    #[test]
    fn deep_and_long_formulas_are_refused_not_overflowed() {
        let nested = |n: usize| format!("{}x{}", "(".repeat(n), ")".repeat(n));
        // MAX_NESTING - 1 parentheses plus the level of the whole formula: accepted.
        assert_eq!(ev(&nested(MAX_NESTING - 1)), 3.0);
        let e = Expr::parse(&nested(MAX_NESTING), &[]).unwrap_err();
        assert!(e.message.contains("nests more than 64 levels"), "{e}");
        assert_eq!(e.column, MAX_NESTING + 1);
        // The reproducer of issue 14 (10,000 parentheses) is refused by its length first, and
        // within the length by its depth: no stack overflow either way.
        assert!(Expr::parse(&nested(10_000), &[]).is_err());
        assert!(
            Expr::parse(&nested(2000), &[])
                .unwrap_err()
                .message
                .contains("levels deep")
        );
        for deep in [
            "-".repeat(100) + "x",
            "2^".repeat(100) + "1",
            "exp(".repeat(100) + "x" + &")".repeat(100),
        ] {
            let e = Expr::parse(&deep, &[]).unwrap_err();
            assert!(e.message.contains("levels deep"), "{e}");
        }
        // A long flat chain is fine up to the length limit (evaluation recursion ~2,000 deep).
        let chain = vec!["x"; MAX_FORMULA_CHARS / 4].join(" + ");
        assert_eq!(ev(&chain), 3.0 * (MAX_FORMULA_CHARS / 4) as f64);
        let long = vec!["x"; MAX_FORMULA_CHARS].join("+");
        assert!(
            Expr::parse(&long, &[])
                .unwrap_err()
                .message
                .contains("characters long")
        );
    }

    #[test]
    fn uses_time_and_display() {
        let e = Expr::parse("sin(t) * x", &[]).unwrap();
        assert!(e.uses_time());
        assert_eq!(e.to_string(), "sin(t) * x");
        assert!(!Expr::parse("x + y", &[]).unwrap().uses_time());
    }
}
