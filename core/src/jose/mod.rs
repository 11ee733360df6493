//! jose (in progress)
