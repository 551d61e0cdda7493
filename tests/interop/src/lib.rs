//! Interoperability harness for candado-otr against libotr (work in progress).
