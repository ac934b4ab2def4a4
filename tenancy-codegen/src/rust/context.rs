//! The org-scoped API of the models: `VerifiedClaim` → `OrgContext` → `Scoped` (the only way to
//! a tenant or shared table), the signed claim's `ClaimKey`, and the `pool` that resets every
//! connection it hands out.

use super::{rust_ident, snake};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use tenancy_schema::{Claim, Schema, Scope, Table};

/// Tables reachable only through [`Scoped`]: tenant tables, and shared tables (whose rows an
/// organization sees through their link).
pub(super) fn scoped(table: &Table) -> bool {
    matches!(table.scope, Scope::Tenant | Scope::Shared)
}

/// `VerifiedClaim`, `OrgContext` and `Scoped`: the only way to a tenant table.
pub(super) fn context(schema: &Schema) -> TokenStream {
    let org = rust_ident(&schema.settings.org_column);
    let org_key = super::rust_type(&schema.settings.org_key).expect("organization keys have a Rust type");
    // `OrgId` is `Copy` unless the key is text.
    let own_org = if schema.settings.org_key == tenancy_schema::ColumnType::Text {
        quote!(self.org.clone())
    } else {
        quote!(self.org)
    };
    // `SET LOCAL` (not `set_config`): the same on PostgreSQL, and the form Citus passes on to
    // the workers (`citus.propagate_set_commands = 'local'`). SET takes no bind parameter, so
    // the value is an escape string literal (quotes and backslashes doubled), whatever
    // `standard_conforming_strings` says.
    let claim_setting = schema.settings.claim.setting().to_owned();
    // PostgREST's claims are JSON: `{"app_metadata":{"org_id":"..."}}`.
    let wrap_claim = if matches!(schema.settings.claim, Claim::Postgrest) {
        quote! { format!(r#"{{"app_metadata":{{"org_id":"{}"}}}}"#, value.replace('\\', "\\\\").replace('"', "\\\"")) }
    } else {
        quote! { value }
    };
    let signed = schema.settings.claim.is_signed();
    let accessors = schema.tables.iter().filter(|t| scoped(t)).map(|t| {
        let name = rust_ident(&t.name);
        if t.scope == Scope::Shared {
            let link = t.link.as_ref().map(|l| format!("{}.{}", l.table, l.column)).unwrap_or_default();
            let doc = format!(
                " The shared `{}` table, for queries run on [`Scoped::conn`]: only rows linked to this organization through `{link}` are visible, and it is read-only.",
                t.name
            );
            return quote! {
                #[doc = #doc]
                pub fn #name(&self) -> tables::#name::table {
                    tables::#name::table
                }
            };
        }
        let row = format_ident!("{}", t.struct_name);
        let new = format_ident!("New{}", t.struct_name);
        let insert = format_ident!("insert_{}", snake(&t.struct_name));
        let doc = format!(" The `{}` table, for queries run on [`Scoped::conn`].", t.name);
        let insert_doc = format!(" Inserts a row into `{}` in this organization and returns it.", t.name);
        let routed = format_ident!("{}_of_org", t.name);
        let routed_doc = format!(
            " The rows of `{}` of this organization, with the organization filter written out: row-level security gives the same rows, but on Citus only this filter lets the planner send the query to the one shard that holds them.",
            t.name
        );
        quote! {
            #[doc = #doc]
            pub fn #name(&self) -> tables::#name::table {
                tables::#name::table
            }

            #[doc = #routed_doc]
            pub fn #routed(&self) -> diesel::dsl::Filter<tables::#name::table, diesel::dsl::Eq<tables::#name::#org, OrgId>> {
                use diesel::prelude::*;
                tables::#name::table.filter(tables::#name::#org.eq(#own_org))
            }

            #[doc = #insert_doc]
            pub fn #insert(&mut self, row: inserts::#new) -> diesel::QueryResult<rows::#row> {
                use diesel::prelude::*;
                diesel::insert_into(tables::#name::table)
                    .values((tables::#name::#org.eq(&self.org), row))
                    .returning(rows::#row::as_returning())
                    .get_result(self.conn)
            }
        }
    });
    let claim_value = if signed {
        quote! { self.key.token(&self.org) }
    } else {
        quote! { self.org.to_string() }
    };
    let context_type = if signed { signed_context() } else { plain_context() };
    let setting = schema.settings.claim.setting().replace('\'', "''");
    let carried_sql = format!("SELECT coalesce(current_setting('{setting}', true), '') <> '' AS carried");
    let carried_message = format!(
        "this connection already carries a claim ({setting} is set outside the organization's transaction: a session-level SET, or a role or database default); refusing to run, since the next request on the connection would run with it. Reset connections when the pool hands them out (models::pool), and remove the SET"
    );
    quote! {
        /// Implemented by the application for the credential its authentication verified (a
        /// decoded, signature-checked token; a session looked up server-side). It is the only
        /// way to an [`OrgContext`]: an organization id read off a request is not one.
        pub trait VerifiedClaim {
            /// The organization this credential was issued for.
            fn verified_org_id(&self) -> #org_key;
        }

        #context_type

        impl OrgContext {
            pub fn org_id(&self) -> OrgId {
                #own_org
            }

            /// Runs `body` in a transaction whose claim is this organization, set
            /// transaction-locally: a pooled connection never carries it into the next request.
            ///
            /// Refused (before `body` runs) when the connection already carries a claim from
            /// outside this transaction — a session-level `SET`, or a role or database default:
            /// that claim would be what the next request on the connection runs with.
            pub fn transaction<T, E, F>(&self, conn: &mut diesel::PgConnection, body: F) -> Result<T, E>
            where
                F: FnOnce(&mut Scoped<'_>) -> Result<T, E>,
                E: From<diesel::result::Error>,
            {
                use diesel::prelude::*;
                conn.transaction(|conn| {
                    #[derive(diesel::QueryableByName)]
                    struct Carried {
                        #[diesel(sql_type = diesel::sql_types::Bool)]
                        carried: bool,
                    }
                    let carried = diesel::sql_query(#carried_sql).get_result::<Carried>(conn)?;
                    if carried.carried {
                        return Err(diesel::result::Error::DatabaseError(
                            diesel::result::DatabaseErrorKind::Unknown,
                            Box::new(#carried_message.to_owned()),
                        )
                        .into());
                    }
                    let value: String = #claim_value;
                    let value = #wrap_claim;
                    let claim = format!("SET LOCAL {} = E'{}'", #claim_setting, value.replace('\\', "\\\\").replace('\'', "''"));
                    diesel::sql_query(claim).execute(conn)?;
                    body(&mut Scoped { conn, org: #own_org })
                })
            }
        }

        /// A transaction acting for one organization: tenant tables, and inserts that take the
        /// organization from the context (an insert struct has no field for it).
        pub struct Scoped<'c> {
            conn: &'c mut diesel::PgConnection,
            org: OrgId,
        }

        impl Scoped<'_> {
            pub fn org_id(&self) -> OrgId {
                #own_org
            }

            /// The connection, to run queries built from this transaction's tables.
            pub fn conn(&mut self) -> &mut diesel::PgConnection {
                self.conn
            }

            #(#accessors)*
        }
    }
}

/// `pool`: an r2d2 manager that resets every connection when the pool hands it out, so no
/// session state of one request (a claim `SET` at session level above all) reaches the next.
pub(super) fn pool_module() -> TokenStream {
    quote! {
        /// Connection pooling that never hands out a connection carrying a previous request's
        /// session state.
        pub mod pool {
            use diesel::connection::SimpleConnection;
            use diesel::r2d2::{ConnectionManager, ManageConnection, Pool};

            /// What runs on a connection each time the pool hands it out: the session settings
            /// (a claim set at session level included), the role, cursors, listeners, advisory
            /// locks, temporary tables and sequence state of the previous request are gone.
            /// `DISCARD ALL` but for `DEALLOCATE ALL`: Diesel's statement cache keeps its
            /// prepared statements.
            pub const RESET: &str = "CLOSE ALL; RESET SESSION AUTHORIZATION; RESET ALL; RESET ROLE; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES";

            /// An r2d2 manager for PostgreSQL that runs [`RESET`] on every checkout.
            #[derive(Debug)]
            pub struct ResetOnCheckout {
                inner: ConnectionManager<diesel::PgConnection>,
            }

            impl ResetOnCheckout {
                pub fn new(database_url: impl Into<String>) -> ResetOnCheckout {
                    ResetOnCheckout { inner: ConnectionManager::new(database_url) }
                }
            }

            impl ManageConnection for ResetOnCheckout {
                type Connection = diesel::PgConnection;
                type Error = diesel::r2d2::Error;

                fn connect(&self) -> Result<diesel::PgConnection, diesel::r2d2::Error> {
                    self.inner.connect()
                }

                /// r2d2 calls this on checkout (`test_on_check_out`, on in [`builder`]).
                fn is_valid(&self, conn: &mut diesel::PgConnection) -> Result<(), diesel::r2d2::Error> {
                    conn.batch_execute(RESET).map_err(diesel::r2d2::Error::QueryError)
                }

                fn has_broken(&self, conn: &mut diesel::PgConnection) -> bool {
                    self.inner.has_broken(conn)
                }
            }

            /// A pool builder whose connections are reset on every checkout.
            pub fn builder() -> diesel::r2d2::Builder<ResetOnCheckout> {
                Pool::builder().test_on_check_out(true)
            }

            /// A pool of at most `max_size` connections to `database_url`, reset on every checkout.
            pub fn pool(database_url: &str, max_size: u32) -> Result<Pool<ResetOnCheckout>, diesel::r2d2::PoolError> {
                builder().max_size(max_size).build(ResetOnCheckout::new(database_url))
            }
        }
    }
}

/// `OrgContext` of the unsigned presets: the claim is the organization id.
fn plain_context() -> TokenStream {
    quote! {
        /// The organization a request acts for, taken from a [`VerifiedClaim`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct OrgContext {
            org: OrgId,
        }

        impl OrgContext {
            pub fn from_claim<C: VerifiedClaim + ?Sized>(claim: &C) -> OrgContext {
                OrgContext { org: OrgId(claim.verified_org_id()) }
            }
        }
    }
}

/// `OrgContext` of `claim = signed`: the claim is a token minted in `transaction` from the
/// application's [`ClaimKey`] (HMAC-SHA256, valid one minute); application code never sees it.
fn signed_context() -> TokenStream {
    quote! {
        /// The application's claim key, `<id>:<hex secret>` (32 to 64 bytes), installed in the
        /// database with `tenancy-migrate claim-key install`. Its `Debug` never shows the secret.
        #[derive(Clone)]
        pub struct ClaimKey {
            id: String,
            inner: [u8; 64],
            outer: [u8; 64],
        }

        /// Why a claim key was refused (the secret is never part of it).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct ClaimKeyError(&'static str);

        impl std::fmt::Display for ClaimKeyError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "invalid claim key: {}; expected <id>:<hex secret of 32 to 64 bytes>", self.0)
            }
        }

        impl std::error::Error for ClaimKeyError {}

        impl std::fmt::Debug for ClaimKey {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "ClaimKey {{ id: {:?}, secret: <redacted> }}", self.id)
            }
        }

        impl ClaimKey {
            /// Reads `<id>:<hex secret>`, e.g. from a secret store.
            pub fn parse(text: &str) -> Result<ClaimKey, ClaimKeyError> {
                let (id, hex) = text.trim().split_once(':').ok_or(ClaimKeyError("no `:` between the id and the secret"))?;
                if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                    return Err(ClaimKeyError("the id is not 1 to 32 of A-Z a-z 0-9 _ -"));
                }
                if !hex.len().is_multiple_of(2) || !(64..=128).contains(&hex.len()) {
                    return Err(ClaimKeyError("the secret is not 32 to 64 bytes of hexadecimal"));
                }
                let (mut inner, mut outer) = ([0x36u8; 64], [0x5cu8; 64]);
                for i in 0..hex.len() / 2 {
                    let byte = hex.get(2 * i..2 * i + 2).and_then(|b| u8::from_str_radix(b, 16).ok());
                    let byte = byte.ok_or(ClaimKeyError("the secret is not hexadecimal"))?;
                    inner[i] ^= byte;
                    outer[i] ^= byte;
                }
                Ok(ClaimKey { id: id.to_owned(), inner, outer })
            }

            /// Reads the key from the environment variable `name` (e.g. `TENANCY_CLAIM_KEY`).
            pub fn from_env(name: &str) -> Result<ClaimKey, ClaimKeyError> {
                let text = std::env::var(name).map_err(|_| ClaimKeyError("the environment variable is not set"))?;
                ClaimKey::parse(&text)
            }

            pub fn id(&self) -> &str {
                &self.id
            }

            /// `<org>.<expiry>.<key id>.<hex HMAC-SHA256>`, valid for one minute.
            fn token(&self, org: &OrgId) -> String {
                use sha2::Digest;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let message = format!("{}.{}.{}", org, now + 60, self.id);
                let inner = sha2::Sha256::new().chain_update(self.inner).chain_update(message.as_bytes()).finalize();
                let mac = sha2::Sha256::new().chain_update(self.outer).chain_update(inner).finalize();
                let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
                format!("{message}.{hex}")
            }
        }

        /// The organization a request acts for, taken from a [`VerifiedClaim`], and the key
        /// its transactions' claims are signed with.
        #[derive(Debug, Clone)]
        pub struct OrgContext {
            org: OrgId,
            key: ClaimKey,
        }

        impl PartialEq for OrgContext {
            fn eq(&self, other: &OrgContext) -> bool {
                self.org == other.org && self.key.id == other.key.id
            }
        }

        impl OrgContext {
            pub fn from_claim<C: VerifiedClaim + ?Sized>(claim: &C, key: &ClaimKey) -> OrgContext {
                OrgContext { org: OrgId(claim.verified_org_id()), key: key.clone() }
            }
        }
    }
}
