using AutoSignOut.ClientApp;

var app = ClientAppHost.Create(args);
app.Run();
