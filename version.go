package lksdk

// Version is the version of this SDK. It is sent to the server when a
// participant joins, so that the server can tell SDKs apart.
const Version = "0.11.0"
