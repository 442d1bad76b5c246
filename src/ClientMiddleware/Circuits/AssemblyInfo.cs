using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("AutoSignOut.Browser.Tests")]
[assembly: InternalsVisibleTo("AutoSignOut.CircuitBench")]
