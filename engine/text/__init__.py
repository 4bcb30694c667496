"""What TuneDesk tells its users, in English and Chinese: a message is a key and its values, rendered in
the reader's language at the edge (the UI in its language, the API in English unless asked, the CLI by
--lang). The training log stays English: it is for bug reports."""
