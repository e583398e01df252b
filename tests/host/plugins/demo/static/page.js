// The demo plugin's page: proves a plugin page mounts into the shell.
export default async function mount(element, shell) {
  element.innerHTML = `<h2 class="demo-page">Demo page</h2><p>Signed in as ${shell.user.email}</p>`;
}
