//! Partner data: the organizations and partnerships ([`onboarding`]), their accounts and
//! subscriptions ([`provisioning`]), the platform's usage records and the billing reports
//! built from them ([`usage`], [`commitments`], [`calendar`]), and the customers view
//! ([`customers`]), in the vocabularies of [`catalogue`].

pub mod calendar;
pub mod catalogue;
pub mod commitments;
pub mod customers;
pub mod onboarding;
pub mod provisioning;
pub mod usage;
