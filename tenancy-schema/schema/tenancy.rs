//! The tenancy declaration of this workspace: the seeds' SaaS application.
//!
//! This file is parsed by tenancy-schema (with syn), never compiled. Changing it and running
//! `cargo xtask codegen` appends a migration to migrations/; `cargo build` regenerates the models.

#![tenancy(
    org_column = "org_id",
    app_role = "app_user",
    // A signed token (HMAC-SHA256 under a key only auth_org_id() reads): SQL that rewrites the
    // setting cannot name another organization. See README, "Signed claims".
    claim = signed,
    default_org = "00000000-0000-4000-8000-000000000001"
)]

// ----- The organizations table -------------------------------------------------------------

#[tenancy(root)]
struct Organization {
    #[key]
    id: Uuid,
    name: String,
    #[unique]
    slug: String,
    #[default("'{}'::jsonb")]
    settings: Jsonb,
    #[default("true")]
    is_active: bool,
    #[references(plans)]
    plan_id: Option<i64>,
    #[default("now()")]
    created_at: Timestamptz,
}

// ----- People: shared, but each organization sees only its members (read-only to the app) ---

/// A person who can sign in; may belong to several organizations through user_organizations.
/// Not global: an organization sees a user only while a user_organizations row of its own
/// links them, so no tenant reads another tenant's people.
#[tenancy(shared(through = "user_organizations.user_id"))]
struct User {
    #[key]
    id: Uuid,
    #[unique]
    email: String,
    full_name: Option<String>,
    /// Where this user's legacy rows go when a user-owned table becomes org-owned (seed 004).
    #[references(organizations)]
    default_org_id: Option<Uuid>,
    #[default("now()")]
    created_at: Timestamptz,
}

// ----- Reference data, shared by every organization (read-only to the app role) -----------

#[tenancy(global)]
struct Plan {
    #[key]
    id: i64,
    #[unique]
    name: String,
    monthly_price_cents: i64,
}

// ----- Platform internals: not for the application at all ----------------------------------

/// The platform's own staff. Internal: the app role has no privilege on it, so no organization
/// reads who runs the platform; admin tooling connects as a role of its own.
#[tenancy(internal)]
struct AdminUser {
    #[key]
    id: i64,
    #[unique]
    email: String,
    #[default("now()")]
    created_at: Timestamptz,
}

// ----- Membership --------------------------------------------------------------------------

#[tenancy(tenant, unique(user_id))]
#[backfill(via = "user_id -> users.default_org_id")]
struct UserOrganization {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    #[default("'member'")]
    role: String,
    #[default("true")]
    is_active: bool,
    #[default("now()")]
    created_at: Timestamptz,
}

// ----- Tenant data -------------------------------------------------------------------------

#[tenancy(tenant, unique(user_id, platform))]
#[backfill(via = "user_id -> users.default_org_id")]
struct SocialPlatformConnection {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    platform: String,
    platform_user_id: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    token_expires_at: Option<Timestamptz>,
    #[default("true")]
    is_active: bool,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant, unique(user_id, provider))]
#[backfill(via = "user_id -> users.default_org_id")]
struct CalendarConnection {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    provider: String,
    calendar_id: Option<String>,
    access_token: Option<String>,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant, unique(integration))]
#[backfill(default_org)]
struct IntegrationSetting {
    #[key]
    id: i64,
    integration: String,
    #[default("'{}'::jsonb")]
    config: Jsonb,
    #[default("false")]
    enabled: bool,
    #[default("now()")]
    updated_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(via = "user_id -> users.default_org_id")]
struct AgentConfiguration {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    name: String,
    voice: Option<String>,
    prompt: Option<String>,
    #[default("'{}'::jsonb")]
    settings: Jsonb,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(via = "user_id -> users.default_org_id")]
struct Agent {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    #[references(agent_configurations)]
    configuration_id: Option<i64>,
    name: String,
    phone_number: Option<String>,
    #[default("'inactive'")]
    status: String,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(via = "user_id -> users.default_org_id")]
struct Campaign {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    #[references(agents)]
    agent_id: Option<i64>,
    name: String,
    #[default("'draft'")]
    status: String,
    starts_at: Option<Timestamptz>,
    ends_at: Option<Timestamptz>,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(from_parent = "campaign_id")]
struct ColdCallLog {
    #[key]
    id: i64,
    #[references(campaigns)]
    campaign_id: i64,
    phone_number: String,
    outcome: Option<String>,
    notes: Option<String>,
    #[default("now()")]
    called_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(via = "user_id -> users.default_org_id")]
struct Contact {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    full_name: String,
    email: Option<String>,
    phone_number: Option<String>,
    #[default("'{}'::jsonb")]
    attributes: Jsonb,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(via = "user_id -> users.default_org_id")]
struct Lead {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    #[references(contacts)]
    contact_id: Option<i64>,
    #[references(campaigns)]
    campaign_id: Option<i64>,
    #[default("'new'")]
    status: String,
    score: Option<i64>,
    source: Option<String>,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant)]
// Calls of a deleted organization (the legacy app kept them) go where their agent is.
#[backfill(from_parent = "agent_id", missing_org = "reassign")]
struct Call {
    #[key]
    id: i64,
    #[references(agents)]
    agent_id: i64,
    #[references(leads)]
    lead_id: Option<i64>,
    direction: String,
    from_number: Option<String>,
    to_number: Option<String>,
    #[default("'queued'")]
    status: String,
    duration_seconds: Option<i64>,
    started_at: Option<Timestamptz>,
    ended_at: Option<Timestamptz>,
}

#[tenancy(tenant)]
#[backfill(from_parent = "call_id")]
struct CallLog {
    #[key]
    id: i64,
    #[references(calls)]
    call_id: i64,
    event: String,
    payload: Option<Jsonb>,
    #[default("now()")]
    logged_at: Timestamptz,
}

#[tenancy(tenant, table = "call_tracking")]
#[backfill(from_parent = "call_id")]
struct CallTracking {
    #[key]
    id: i64,
    #[references(calls)]
    call_id: i64,
    tracking_number: String,
    utm_source: Option<String>,
    utm_campaign: Option<String>,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(via = "user_id -> users.default_org_id")]
struct Appointment {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    #[references(contacts)]
    contact_id: Option<i64>,
    #[references(calendar_connections)]
    calendar_connection_id: Option<i64>,
    title: String,
    starts_at: Timestamptz,
    ends_at: Timestamptz,
    #[default("'scheduled'")]
    status: String,
}

#[tenancy(tenant)]
#[backfill(from_parent = "appointment_id")]
struct AppointmentHold {
    #[key]
    id: i64,
    #[references(appointments)]
    appointment_id: i64,
    expires_at: Timestamptz,
    held_by: Option<String>,
}

#[tenancy(tenant)]
#[backfill(from_parent = "appointment_id")]
struct AppointmentBooking {
    #[key]
    id: i64,
    #[references(appointments)]
    appointment_id: i64,
    #[references(leads)]
    lead_id: Option<i64>,
    confirmation_code: String,
    #[default("now()")]
    booked_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(from_parent = "appointment_id")]
struct SmsConfirmationLog {
    #[key]
    id: i64,
    #[references(appointments)]
    appointment_id: i64,
    to_number: String,
    message: String,
    provider_message_id: Option<String>,
    #[default("now()")]
    sent_at: Timestamptz,
}

#[tenancy(tenant, table = "knowledge_base")]
#[backfill(via = "user_id -> users.default_org_id")]
struct KnowledgeBase {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    #[references(agents)]
    agent_id: Option<i64>,
    title: String,
    content: String,
    #[default("now()")]
    updated_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(via = "user_id -> users.default_org_id")]
struct Upload {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Uuid,
    file_name: String,
    content_type: Option<String>,
    size_bytes: i64,
    storage_key: String,
    #[default("now()")]
    uploaded_at: Timestamptz,
}

#[tenancy(tenant, unique(ean))]
#[backfill(default_org)]
struct Product {
    #[key]
    id: i64,
    ean: String,
    name: String,
    brand: Option<String>,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant, unique(product_id, year, month))]
#[backfill(from_parent = "product_id")]
struct SelloutEntry {
    #[key]
    id: i64,
    #[references(products)]
    product_id: i64,
    #[references(uploads)]
    upload_id: Option<i64>,
    year: i64,
    month: i64,
    units: i64,
    revenue_cents: i64,
}

#[tenancy(tenant)]
#[backfill(from_parent = "upload_id")]
struct ProcessingLog {
    #[key]
    id: i64,
    #[references(uploads)]
    upload_id: i64,
    status: String,
    message: Option<String>,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(from_parent = "upload_id")]
struct TransformLog {
    #[key]
    id: i64,
    #[references(uploads)]
    upload_id: i64,
    step: String,
    rows_in: i64,
    rows_out: i64,
    #[default("now()")]
    created_at: Timestamptz,
}

#[tenancy(tenant)]
#[backfill(via = "user_id -> users.default_org_id")]
struct EmailLog {
    #[key]
    id: i64,
    #[references(users)]
    user_id: Option<Uuid>,
    to_address: String,
    subject: String,
    provider_message_id: Option<String>,
    #[default("'queued'")]
    status: String,
    #[default("now()")]
    sent_at: Timestamptz,
}
