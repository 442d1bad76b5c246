using AutoSignOut.IdentityServerHost;

var app = IdentityServerHost.Create(args);
await app.SeedAsync();
await app.RunAsync();
