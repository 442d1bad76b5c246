using AutoSignOut.IdentityProvider;

var app = IdentityProviderHost.Create(args);
await app.SeedAsync();
await app.RunAsync();
