//! The org-scoped API with a connection pool: requests of two organizations through one r2d2
//! pool of the app role, each acting only for the organization its verified credential names.
//!
//! Run it against the throwaway database of `cargo xtask migrate`:
//!
//! ```sh
//! cargo xtask migrate
//! ADMIN=$(cargo xtask dev-db url)                      # a superuser URL, to seed two organizations
//! psql "$ADMIN" -c "ALTER ROLE app_user LOGIN PASSWORD 'app'"
//! export TENANCY_CLAIM_KEY="k1:$(openssl rand -hex 32)"  # the claim key, from a secret store in production
//! cargo run -p tenancy-migrate -- claim-key install --from-env TENANCY_CLAIM_KEY --database-url "$ADMIN"
//! DATABASE_URL="$ADMIN" APP_DATABASE_URL="${ADMIN/postgres:tenancy-dev/app_user:app}" \
//!   cargo run -p tenancy-migrate --example org_scoped
//! ```

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use tenancy_migrate::models::{ClaimKey, OrgContext, VerifiedClaim, inserts, schema};

/// What the application's authentication produces once it has checked a token's signature.
/// Implementing `VerifiedClaim` for it is the one place the application vouches for an org id.
struct AuthenticatedUser {
    user_id: uuid::Uuid,
    org_id: uuid::Uuid,
}

impl VerifiedClaim for AuthenticatedUser {
    fn verified_org_id(&self) -> uuid::Uuid {
        self.org_id
    }
}

/// One request: add a contact for the caller's organization, then list that organization's.
fn handle(
    pool: &Pool<ConnectionManager<PgConnection>>,
    key: &ClaimKey,
    caller: &AuthenticatedUser,
    name: &str,
) -> anyhow::Result<Vec<String>> {
    let mut conn = pool.get()?;
    // The transaction's claim is a token signed with the key: SQL cannot forge another org's.
    let context = OrgContext::from_claim(caller, key);
    let names = context.transaction::<_, diesel::result::Error, _>(&mut conn, |tx| {
        // No org_id here: the insert takes it from the context.
        tx.insert_contact(inserts::NewContact {
            id: None,
            user_id: caller.user_id,
            full_name: name.to_owned(),
            email: None,
            phone_number: None,
            attributes: None,
            created_at: None,
        })?;
        // The table only exists inside the transaction; row-level security does the rest.
        tx.contacts().select(schema::contacts::full_name).order(schema::contacts::id).load(tx.conn())
    })?;
    Ok(names)
}

fn main() -> anyhow::Result<()> {
    let admin_url =
        std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("set DATABASE_URL (a superuser, to seed)"))?;
    let app_url =
        std::env::var("APP_DATABASE_URL").map_err(|_| anyhow::anyhow!("set APP_DATABASE_URL (the app role)"))?;
    let (acme, beta, user) = (uuid::Uuid::from_u128(0xac), uuid::Uuid::from_u128(0xbe), uuid::Uuid::from_u128(0x05));
    PgConnection::establish(&admin_url)?.batch_execute(&format!(
        "INSERT INTO organizations (id, name, slug) VALUES ('{acme}', 'Acme', 'example-acme'), ('{beta}', 'Beta', 'example-beta')
           ON CONFLICT DO NOTHING;
         INSERT INTO users (id, email) VALUES ('{user}', 'example@example.com') ON CONFLICT DO NOTHING;"
    ))?;
    let key = ClaimKey::from_env("TENANCY_CLAIM_KEY")?;
    let pool = Pool::builder().max_size(2).build(ConnectionManager::<PgConnection>::new(app_url))?;
    let ann = AuthenticatedUser { user_id: user, org_id: acme };
    let bob = AuthenticatedUser { user_id: user, org_id: beta };
    for round in 1..=2 {
        println!("Acme sees {:?}", handle(&pool, &key, &ann, &format!("Acme contact {round}"))?);
        println!("Beta sees {:?}", handle(&pool, &key, &bob, &format!("Beta contact {round}"))?);
    }
    Ok(())
}
