package hostsfile

// Polls is how many times Run has checked the file.
func (f *File) Polls() int64 { return f.polls.Load() }
