pub mod email;
pub mod model;
pub mod phone;
pub mod plan;
