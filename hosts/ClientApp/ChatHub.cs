using AutoSignOut.ClientApp.Services;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;

namespace AutoSignOut.ClientApp;

/// <summary>
/// A small chat. Cookie or bearer (from the configured OP; <c>access_token</c> query for WebSockets). AutoSignOut's hub
/// filter registers each connection and closes it, after a <c>signedOut</c> message, when its session is revoked.
/// </summary>
[Authorize(Policy = Policy)]
public sealed class ChatHub(ChatLog log, TimeProvider time) : Hub
{
    /// <summary>The authorization policy: cookie or bearer, authenticated.</summary>
    public const string Policy = "chat";

    /// <summary>Sends the recent messages to the new connection.</summary>
    public override async Task OnConnectedAsync()
    {
        foreach (var message in log.Recent())
        {
            await Clients.Caller.SendAsync("receive", message.User, message.Text);
        }

        await base.OnConnectedAsync();
    }

    /// <summary>Posts a message to everyone.</summary>
    /// <param name="text">The message, at most 500 characters.</param>
    public async Task Send(string text)
    {
        text = (text ?? string.Empty).Trim();
        if (text.Length is 0 or > 500)
        {
            throw new HubException("A message has 1 to 500 characters.");
        }

        var user = Context.User?.FindFirst("name")?.Value ?? Context.User?.FindFirst("sub")?.Value ?? "?";
        log.Add(new ChatMessage(user, text, time.GetUtcNow()));
        await Clients.All.SendAsync("receive", user, text);
    }
}
