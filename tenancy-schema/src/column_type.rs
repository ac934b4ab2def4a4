//! The declared column types: their Rust-like names, their SQL names as `format_type` prints
//! them, and the mapping both ways.

use serde::{Deserialize, Serialize};

/// Column types the declaration understands, written as Rust-like names (see [`ColumnType::NAMES`]):
/// `String`, `Varchar<255>`, `Numeric<10, 2>`, `Vec<String>`, `Enum<"account_role">`, and
/// `Sql<"point">` for any other SQL type, so no column is ever dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Uuid,
    Text,
    /// `varchar` / `varchar(n)`.
    Varchar(Option<u32>),
    /// `char(n)` (`bpchar`).
    Char(u32),
    /// The `citext` extension's case-insensitive text.
    Citext,
    SmallInt,
    Int,
    BigInt,
    Real,
    Double,
    /// `numeric` / `numeric(precision, scale)`.
    Numeric(Option<(u32, u32)>),
    Bool,
    /// `json` (text as written).
    Json,
    Jsonb,
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone`.
    Timestamptz,
    Date,
    Time,
    Interval,
    Bytes,
    Inet,
    Cidr,
    /// A one-dimensional array of the element type.
    Array(Box<ColumnType>),
    /// An enum type that exists in the database, by name (optionally schema-qualified).
    Enum(String),
    /// Any other SQL type, written verbatim (`point`, `tsvector`, `ltree`, a domain).
    Sql(String),
}

impl ColumnType {
    /// The spellings accepted in declarations: plain names, then the parameterised forms.
    pub const NAMES: &'static str = "Uuid, String, Varchar, Varchar<N>, Char<N>, Citext, i16, i32, i64, f32, f64, \
        Numeric, Numeric<P, S>, bool, Json, Jsonb, Timestamp, Timestamptz, Date, Time, Interval, Bytes, Inet, Cidr, \
        Vec<T>, Enum<\"name\">, Sql<\"any sql type\">";

    /// A type without parameters from its declared name (`String`, `i64`, `Timestamptz`).
    pub fn from_rust_name(name: &str) -> Option<ColumnType> {
        Some(match name {
            "Uuid" => ColumnType::Uuid,
            "String" => ColumnType::Text,
            "Varchar" => ColumnType::Varchar(None),
            "Citext" => ColumnType::Citext,
            "i16" => ColumnType::SmallInt,
            "i32" => ColumnType::Int,
            "i64" => ColumnType::BigInt,
            "f32" => ColumnType::Real,
            "f64" => ColumnType::Double,
            "Numeric" => ColumnType::Numeric(None),
            "bool" => ColumnType::Bool,
            "Json" => ColumnType::Json,
            "Jsonb" => ColumnType::Jsonb,
            "Timestamp" => ColumnType::Timestamp,
            "Timestamptz" => ColumnType::Timestamptz,
            "Date" => ColumnType::Date,
            "Time" => ColumnType::Time,
            "Interval" => ColumnType::Interval,
            "Bytes" => ColumnType::Bytes,
            "Inet" => ColumnType::Inet,
            "Cidr" => ColumnType::Cidr,
            _ => return None,
        })
    }

    /// How the declaration writes this type (the inverse of parsing).
    pub fn rust_name(&self) -> String {
        match self {
            ColumnType::Uuid => "Uuid".into(),
            ColumnType::Text => "String".into(),
            ColumnType::Varchar(None) => "Varchar".into(),
            ColumnType::Varchar(Some(n)) => format!("Varchar<{n}>"),
            ColumnType::Char(n) => format!("Char<{n}>"),
            ColumnType::Citext => "Citext".into(),
            ColumnType::SmallInt => "i16".into(),
            ColumnType::Int => "i32".into(),
            ColumnType::BigInt => "i64".into(),
            ColumnType::Real => "f32".into(),
            ColumnType::Double => "f64".into(),
            ColumnType::Numeric(None) => "Numeric".into(),
            ColumnType::Numeric(Some((p, s))) => format!("Numeric<{p}, {s}>"),
            ColumnType::Bool => "bool".into(),
            ColumnType::Json => "Json".into(),
            ColumnType::Jsonb => "Jsonb".into(),
            ColumnType::Timestamp => "Timestamp".into(),
            ColumnType::Timestamptz => "Timestamptz".into(),
            ColumnType::Date => "Date".into(),
            ColumnType::Time => "Time".into(),
            ColumnType::Interval => "Interval".into(),
            ColumnType::Bytes => "Bytes".into(),
            ColumnType::Inet => "Inet".into(),
            ColumnType::Cidr => "Cidr".into(),
            ColumnType::Array(element) => format!("Vec<{}>", element.rust_name()),
            ColumnType::Enum(name) => format!("Enum<{name:?}>"),
            ColumnType::Sql(sql) => format!("Sql<{sql:?}>"),
        }
    }

    /// The PostgreSQL type, as `format_type` prints it (for a type on the search path).
    pub fn sql_name(&self) -> String {
        match self {
            ColumnType::Uuid => "uuid".into(),
            ColumnType::Text => "text".into(),
            ColumnType::Varchar(None) => "character varying".into(),
            ColumnType::Varchar(Some(n)) => format!("character varying({n})"),
            ColumnType::Char(n) => format!("character({n})"),
            ColumnType::Citext => "citext".into(),
            ColumnType::SmallInt => "smallint".into(),
            ColumnType::Int => "integer".into(),
            ColumnType::BigInt => "bigint".into(),
            ColumnType::Real => "real".into(),
            ColumnType::Double => "double precision".into(),
            ColumnType::Numeric(None) => "numeric".into(),
            ColumnType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            ColumnType::Bool => "boolean".into(),
            ColumnType::Json => "json".into(),
            ColumnType::Jsonb => "jsonb".into(),
            ColumnType::Timestamp => "timestamp without time zone".into(),
            ColumnType::Timestamptz => "timestamp with time zone".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Time => "time without time zone".into(),
            ColumnType::Interval => "interval".into(),
            ColumnType::Bytes => "bytea".into(),
            ColumnType::Inet => "inet".into(),
            ColumnType::Cidr => "cidr".into(),
            ColumnType::Array(element) => format!("{}[]", element.sql_name()),
            ColumnType::Enum(name) | ColumnType::Sql(name) => name.clone(),
        }
    }

    /// Whether `format_type` output from the database names this type. A type name the search
    /// path makes visible is printed unqualified, so `basejump.account_role` matches
    /// `account_role` too; verbatim SQL types compare without case or spaces.
    pub fn matches_sql(&self, found: &str) -> bool {
        let squash = |s: &str| s.to_ascii_lowercase().replace([' ', '"'], "");
        let unqualified = |s: &str| s.rsplit_once('.').map_or(s.to_owned(), |(_, n)| n.to_owned());
        match self {
            ColumnType::Enum(name) | ColumnType::Sql(name) => {
                let (name, found) = (squash(name), squash(found));
                name == found || unqualified(&name) == unqualified(&found)
            }
            ColumnType::Array(element) => found.strip_suffix("[]").is_some_and(|inner| element.matches_sql(inner)),
            ColumnType::Citext => unqualified(found) == "citext",
            other => other.sql_name() == found,
        }
    }

    /// The type from `format_type` output, when it is one of the named types (for import).
    pub fn from_sql_name(found: &str) -> Option<ColumnType> {
        if let Some(element) = found.strip_suffix("[]") {
            return ColumnType::from_sql_name(element).map(|e| ColumnType::Array(Box::new(e)));
        }
        let params = |s: &str| -> Option<Vec<u32>> {
            let inner = s.split_once('(')?.1.strip_suffix(')')?;
            inner.split(',').map(|p| p.trim().parse().ok()).collect()
        };
        let base = found.split_once('(').map_or(found, |(b, _)| b);
        Some(match (base, params(found).as_deref()) {
            ("character varying", None) => ColumnType::Varchar(None),
            ("character varying", Some([n])) => ColumnType::Varchar(Some(*n)),
            ("character", Some([n])) => ColumnType::Char(*n),
            ("numeric", None) => ColumnType::Numeric(None),
            ("numeric", Some([p, s])) => ColumnType::Numeric(Some((*p, *s))),
            (_, Some(_)) => return None,
            ("citext", None) => ColumnType::Citext,
            (name, None) => {
                let all = [
                    ColumnType::Uuid,
                    ColumnType::Text,
                    ColumnType::SmallInt,
                    ColumnType::Int,
                    ColumnType::BigInt,
                    ColumnType::Real,
                    ColumnType::Double,
                    ColumnType::Bool,
                    ColumnType::Json,
                    ColumnType::Jsonb,
                    ColumnType::Timestamp,
                    ColumnType::Timestamptz,
                    ColumnType::Date,
                    ColumnType::Time,
                    ColumnType::Interval,
                    ColumnType::Bytes,
                    ColumnType::Inet,
                    ColumnType::Cidr,
                ];
                all.into_iter().find(|t| t.sql_name() == name)?
            }
        })
    }

    /// Whether a key column of this type can be generated by the database.
    pub fn is_integer(&self) -> bool {
        matches!(self, ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt)
    }

    /// Whether this type can be an organization key (the root's key, hence every org column and
    /// the claim): uuid, bigint, integer or text.
    pub fn is_org_key(&self) -> bool {
        matches!(self, ColumnType::Uuid | ColumnType::BigInt | ColumnType::Int | ColumnType::Text)
    }
}
