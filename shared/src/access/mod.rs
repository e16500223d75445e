//! Sessions and keys: who may call the API and how. Partners exchange an organization key
//! and an API key for a session ([`sessions`]); admins create, edit, rotate, share and
//! revoke keys ([`api_keys`], [`rotation`], [`sharing`]), limit where they may be used from
//! ([`origins`], [`cors`]) and read the [`audit`] trail; leaked keys reported by code hosts
//! are revoked ([`secret_scanning`], [`notices`]). Credential formats and hashing are in
//! [`credentials`].

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod cors;
pub mod credentials;
pub mod handover;
pub mod notices;
pub mod origins;
pub mod rotation;
pub mod secret_scanning;
pub mod sessions;
pub mod sharing;
